"""The partner dashboard: the cards the other apps register, by role, in a fixed number of queries; and
``partners`` reads none of the apps above it."""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from partners.dashboard import dashboard_cards
from portal.models import Program
from tests.factories import MembershipFactory
from tests.factories.registrations import RegistrationFactory

pytestmark = pytest.mark.django_db


def imported_modules(package: Path) -> set[str]:
    names = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return names


@pytest.mark.parametrize("app", ["partners", "deals"])
def test_partners_and_deals_import_nothing_from_rebates(app):
    modules = imported_modules(Path(settings.BASE_DIR) / app)
    assert sorted(name for name in modules if name.split(".")[0] == "rebates") == []


def test_the_layer_check_sees_imports():
    """The check above would see an import of rebates: it finds partners' own imports of deals."""
    assert "deals.models" in imported_modules(Path(settings.BASE_DIR) / "partners")


@pytest.mark.parametrize(
    ("role", "keys"),
    [
        ("admin", ["actions", "accrual", "latest_statement", "certifications", "outlook"]),  # every role's cards
        ("sales", ["actions", "outlook"]),
        ("finance", ["accrual", "latest_statement", "outlook"]),
    ],
)
def test_each_role_sees_the_cards_registered_for_it_in_order(role, keys):
    assert [card.key for card in dashboard_cards(role=role)] == keys


def expiring_registrations(partner, count):
    today = timezone.localdate()
    for days in range(count):
        RegistrationFactory(
            partner=partner, status="approved", approved_on=today - timedelta(days=60),
            protection_ends_on=today + timedelta(days=5 + days),
        )  # fmt: skip


# Session, user, membership (3), the program (1: read once per request, ``portal.memo``), then each card: routed
# offers (1), protections (1), the accrual: its stored row and the stamp of its inputs (every line's last id, the
# rates, the partner's lines, won registrations, statements, tiers, attestations and certifications: 10 small
# queries, none proportional to the partner's lines; ``tests/rebates/test_accruals.py``), the latest statement
# (1), the certifications (1, admin), and everyone's tier outlook (14: the tiers once, the evaluation, the months'
# revenue in one GROUP BY, the figures on the review date, the tier history).
@pytest.mark.parametrize(("role", "queries"), [("admin", 32), ("sales", 20), ("finance", 29)])
@pytest.mark.parametrize("registrations", [1, 4])
def test_the_dashboard_takes_the_same_queries_whatever_the_partners_data(
    client, django_assert_num_queries, role, queries, registrations
):
    member = MembershipFactory(role=role)
    expiring_registrations(member.partner, registrations)
    client.force_login(member.user)
    client.get(reverse("dashboard"))  # the session is warm
    with django_assert_num_queries(queries):
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert ("accrual" in response.context) is (role != "sales")
    if role != "finance":
        assert response.context["actions"]["expiring"]["count"] == registrations


def test_the_protections_card_reads_the_extension_window_from_the_program(client):
    member = MembershipFactory(role="sales")
    expiring_registrations(member.partner, 1)
    program = Program.current()
    program.registration_extension_window_days = 45
    program.save()
    client.force_login(member.user)
    page = client.get(reverse("dashboard")).content.decode()
    assert "an extension can be requested in the last 45 days" in page
    assert "Protections ending within 30 days" in page
