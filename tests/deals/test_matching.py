import pytest

from deals.matching import CustomerIdentity, customer_match, customer_near_matches, normalize_domain, normalize_name
from deals.models import Customer


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Établissements Dupont 7007 SARL", "etablissements dupont 7007"),
        ("établissements dupont 7007, SARL", "etablissements dupont 7007"),
        ("ETABLISSEMENTS DUPONT 7007", "etablissements dupont 7007"),
        ("Müller & Söhne GmbH", "muller sohne"),
        ("ACME, Inc.", "acme"),
        ("Acme Ltd", "acme"),
        ("S.A.R.L. Boulangerie", "boulangerie"),
        ("Big Data B.V.", "big data"),
        ("SA", "sa"),  # a name made only of a suffix keeps it
    ],
)
def test_names_are_case_folded_without_accents_punctuation_or_legal_suffixes(raw, normalized):
    assert normalize_name(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("WWW.Example.COM", "example.com"),
        ("https://www.example.com/about", "example.com"),
        ("shop.example.fr", "shop.example.fr"),
    ],
)
def test_domains_are_lower_case_without_www(raw, normalized):
    assert normalize_domain(raw) == normalized


@pytest.mark.django_db
class TestMatchingOrder:
    def test_vat_wins_over_domain_and_name(self):
        by_vat = Customer.objects.create(name="Alpha", country="FR", vat="FR 123 456")
        Customer.objects.create(name="Beta", country="FR", domain="beta.fr")
        found = customer_match(CustomerIdentity(name="Beta", country="FR", vat="fr123456", domain="beta.fr"))
        assert found == by_vat

    def test_domain_wins_over_name(self):
        by_domain = Customer.objects.create(name="Alpha", country="FR", domain="alpha.fr")
        Customer.objects.create(name="Gamma", country="FR")
        assert customer_match(CustomerIdentity(name="Gamma", country="FR", domain="www.alpha.fr")) == by_domain

    def test_name_matches_only_in_the_same_country(self):
        french = Customer.objects.create(name="Dupont SA", country="FR")
        assert customer_match(CustomerIdentity(name="DUPONT", country="FR")) == french
        assert customer_match(CustomerIdentity(name="DUPONT", country="BE")) is None

    def test_two_different_vat_ids_are_two_companies_even_with_the_same_name(self):
        Customer.objects.create(name="Dupont SA", country="FR", vat="FR1")
        assert customer_match(CustomerIdentity(name="Dupont", country="FR", vat="FR2")) is None

    def test_near_matches_are_possible_duplicates_in_the_same_country(self):
        near = Customer.objects.create(name="Etablissements Dupond", country="FR")
        Customer.objects.create(name="Etablissements Dupond", country="DE")
        Customer.objects.create(name="Totally Different", country="FR")
        found = customer_near_matches(CustomerIdentity(name="Établissements Dupont SARL", country="FR"))
        assert found == [near]
