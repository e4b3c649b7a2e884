import pytest
from hypothesis import given
from hypothesis import strategies as st

from deals.matching import LEGAL_FORMS, CustomerIdentity, normalize_domain, normalize_name
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
        ("Big Data B.V.", "big data"),
        ("Dupont S.A.R.L.", "dupont"),
        ("Dupont SARL", "dupont"),
        ("Holding Dupont SA SARL", "holding dupont"),  # every legal form that ends the name
        ("SA", "sa"),  # a name made only of a legal form keeps it
    ],
)
def test_names_are_case_folded_without_accents_punctuation_or_trailing_legal_forms(raw, normalized):
    assert normalize_name(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("NV Energy", "nv energy"),
        ("S.A.R.L. Boulangerie", "sarl boulangerie"),
        ("AG Barr plc", "ag barr"),
        ("Inc Publishing Ltd", "inc publishing"),
        ("The SA Group", "the sa group"),
    ],
)
def test_legal_forms_are_dropped_only_as_the_last_words(raw, normalized):
    """DESIGN §4 (settled): "NV Energy" keeps its NV, so it is not the same company as "Energy Inc"."""
    assert normalize_name(raw) == normalized


def test_nv_energy_and_energy_inc_are_two_names():
    assert normalize_name("NV Energy") != normalize_name("Energy Inc")
    assert normalize_name("Energy N.V.") == normalize_name("Energy Inc")


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
        found = Customer.objects.match(CustomerIdentity(name="Beta", country="FR", vat="fr123456", domain="beta.fr"))
        assert found == by_vat

    def test_domain_wins_over_name(self):
        by_domain = Customer.objects.create(name="Alpha", country="FR", domain="alpha.fr")
        Customer.objects.create(name="Gamma", country="FR")
        assert Customer.objects.match(CustomerIdentity(name="Gamma", country="FR", domain="www.alpha.fr")) == by_domain

    def test_name_matches_only_in_the_same_country(self):
        french = Customer.objects.create(name="Dupont SA", country="FR")
        assert Customer.objects.match(CustomerIdentity(name="DUPONT", country="FR")) == french
        assert Customer.objects.match(CustomerIdentity(name="DUPONT", country="BE")) is None

    def test_two_different_vat_ids_are_two_companies_even_with_the_same_name(self):
        Customer.objects.create(name="Dupont SA", country="FR", vat="FR1")
        assert Customer.objects.match(CustomerIdentity(name="Dupont", country="FR", vat="FR2")) is None

    def test_near_matches_are_possible_duplicates_in_the_same_country(self):
        near = Customer.objects.create(name="Etablissements Dupond", country="FR")
        Customer.objects.create(name="Etablissements Dupond", country="DE")
        Customer.objects.create(name="Totally Different", country="FR")
        found = Customer.objects.near_matches(CustomerIdentity(name="Établissements Dupont SARL", country="FR"))
        assert found == [near]


@pytest.mark.django_db
def test_the_migration_recomputes_keys_written_under_the_old_rule():
    """Keys stored before the rule was settled ("NV Energy" → "energy") are rewritten, so the next import of
    "Energy Inc" no longer matches NV Energy; the migration's frozen copy of the rule equals today's."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("deals.migrations.0006_customer_name_key_trailing_legal_forms")
    nv = Customer.objects.create(name="NV Energy", country="US")
    dupont = Customer.objects.create(name="Dupont S.A.R.L.", country="FR")
    Customer.objects.filter(pk=nv.pk).update(name_key="energy")  # as the old rule wrote it
    migration.recompute_name_keys(apps, None)
    assert Customer.objects.get(pk=nv.pk).name_key == "nv energy"
    assert Customer.objects.get(pk=dupont.pk).name_key == "dupont"
    assert Customer.objects.match(CustomerIdentity(name="Energy Inc", country="US")) is None
    for name in ["NV Energy", "S.A.R.L. Boulangerie", "Müller & Söhne GmbH", "SA", "Holding Dupont SA SARL"]:
        assert migration._name_key(name) == normalize_name(name)


_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).filter(lambda w: w not in LEGAL_FORMS)
_legal = st.sampled_from(sorted(LEGAL_FORMS))


@given(name=st.lists(_words, min_size=1, max_size=4), forms=st.lists(_legal, max_size=3), dotted=st.booleans())
def test_any_legal_forms_ending_a_name_are_dropped_and_nothing_else(name, forms, dotted):
    """Property (DESIGN §4): the key of "<words> <legal forms…>" is the words, whether the forms are written with
    dots (S.A.R.L.) or not; the same legal forms written first stay in the key."""
    spelled = [".".join(form.upper()) + "." if dotted else form.upper() for form in forms]
    assert normalize_name(" ".join(name + spelled)) == " ".join(name)
    assert normalize_name(" ".join(spelled + name)) == " ".join(forms + name)
