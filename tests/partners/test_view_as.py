""" "View as partner" (issue #12): staff with the permission see the portal as one partner's users do, read only
(every non-safe request refused except Stop and signing out), scoped to that partner only, with a banner; each
start and stop is logged; signing out ends it; partner users can never use it; the staff member's admin keeps
working."""

from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from partners.models import PartnerViewSession
from partners.view_as import SESSION_KEY
from tests.factories import UserFactory
from tests.factories.partners import MembershipFactory
from tests.factories.routing import customer, order, partner, partner_user

pytestmark = pytest.mark.django_db

PARTNER_PAGES = [
    "dashboard",
    "deals:order_list",
    "deals:registration_list",
    "deals:routed_list",
    "my_tier",
    "rebates:statement_list",
]


def staff_user(*, permission=True, **kwargs):
    user = UserFactory(is_staff=True, **kwargs)
    codenames = ["view_partner", *(["view_as_partner"] if permission else [])]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames, content_type__app_label="partners"))
    return user


@pytest.fixture
def two_partners():
    """Partner A and partner B, each with one order of a customer with a recognisable name."""
    a, b = partner("FR", name="Alpha Systèmes"), partner("FR", name="Bravo Réseaux")
    order(customer=customer("FR", name="Client Of Alpha"), partner=a, booked_on=date(2017, 3, 1), number="ORD-ALPHA")
    order(customer=customer("FR", name="Client Of Bravo"), partner=b, booked_on=date(2017, 3, 1), number="ORD-BRAVO")
    return a, b


def start(client, the_partner):
    return client.post(reverse("admin:partners_partner_view_as", args=[the_partner.pk]))


def test_start_shows_the_partners_pages_with_a_banner_and_only_that_partners_data(client, two_partners):
    a, b = two_partners
    user = staff_user()
    client.force_login(user)

    started = start(client, a)

    assert started.status_code == 302 and started.url == reverse("dashboard")
    for name in PARTNER_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        html = response.content.decode()
        assert "Viewing as Alpha Systèmes" in html and "read only" in html and reverse("view_as_stop") in html, name
        assert "Bravo" not in html and "ORD-BRAVO" not in html, name
    orders = client.get(reverse("deals:order_list")).content.decode()
    assert "ORD-ALPHA" in orders
    assert client.get(reverse("deals:order_detail", args=["ORD-BRAVO"])).status_code == 404


def test_every_non_safe_request_is_refused_while_viewing_except_stop(client, two_partners):
    a, _b = two_partners
    client.force_login(staff_user())
    start(client, a)

    assert client.post(reverse("deals:registration_create"), {}).status_code == 403
    assert client.post(reverse("team"), {"email": "x@example.com", "role": "sales"}).status_code == 403
    assert client.put(reverse("dashboard")).status_code == 403
    assert client.patch(reverse("dashboard")).status_code == 403
    assert client.delete(reverse("dashboard")).status_code == 403
    assert client.post(reverse("language_switch"), {"language": "fr"}).status_code == 403
    assert not a.memberships.exists() and not a.invitations.exists()

    stopped = client.post(reverse("view_as_stop"))

    assert stopped.status_code == 302 and stopped.url == reverse("admin:partners_partner_change", args=[a.pk])
    assert client.get(reverse("dashboard")).status_code == 403  # a staff user again: not a partner page for them


def test_start_and_stop_are_logged_and_visible_read_only_in_the_admin(client, two_partners):
    a, b = two_partners
    user = staff_user()
    user.user_permissions.add(Permission.objects.get(codename="view_partnerviewsession"))
    client.force_login(user)

    start(client, a)
    start(client, b)  # starting another view ends the first
    client.post(reverse("view_as_stop"))

    rows = list(PartnerViewSession.objects.order_by("id"))
    assert [(row.staff_user, row.partner) for row in rows] == [(user, a), (user, b)]
    assert all(row.ended_at is not None and row.ended_at >= row.started_at for row in rows)
    changelist = client.get(reverse("admin:partners_partnerviewsession_changelist"))
    assert changelist.status_code == 200 and a.code in changelist.content.decode()
    page = client.get(reverse("admin:partners_partnerviewsession_change", args=[rows[0].pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content


def test_signing_out_ends_the_view_and_clears_the_flag(client, two_partners):
    a, _b = two_partners
    client.force_login(staff_user())
    start(client, a)
    assert client.session[SESSION_KEY]

    client.post(reverse("account_logout"))

    assert SESSION_KEY not in client.session
    assert PartnerViewSession.objects.get().ended_at is not None


def test_partner_users_and_staff_without_the_permission_cannot_start_it(client, two_partners):
    a, b = two_partners
    client.force_login(partner_user(b, role="admin"))
    assert start(client, a).status_code == 403
    assert client.get(reverse("admin:partners_partner_view_as", args=[a.pk])).status_code == 403

    # Even a partner user made staff with the permission: never.
    member = staff_user()
    MembershipFactory(user=member, partner=b, role="admin")
    client.force_login(member)
    assert start(client, a).status_code == 403

    client.force_login(staff_user(permission=False))
    assert start(client, a).status_code == 403
    assert not PartnerViewSession.objects.exists()
    assert "View as partner" not in client.get(reverse("admin:partners_partner_change", args=[a.pk])).content.decode()


def test_a_forged_session_flag_gives_nothing_to_a_partner_user(client, two_partners):
    a, b = two_partners
    viewing = PartnerViewSession.objects.create(staff_user=staff_user(), partner=a)
    client.force_login(partner_user(b, role="admin"))
    session = client.session
    session[SESSION_KEY] = viewing.pk
    session.save()

    html = client.get(reverse("deals:order_list")).content.decode()

    assert "ORD-BRAVO" in html and "ORD-ALPHA" not in html and "Viewing as" not in html


def test_the_staff_members_own_admin_keeps_working(client, two_partners):
    a, b = two_partners
    user = staff_user()
    client.force_login(user)
    start(client, a)

    assert client.get(reverse("admin:index")).status_code == 200
    page = client.get(reverse("admin:partners_partner_change", args=[b.pk]))
    assert page.status_code == 200 and "Viewing as" not in page.content.decode()
    assert start(client, b).status_code == 302  # a POST in the admin is not refused
    assert "Viewing as Bravo Réseaux" in client.get(reverse("dashboard")).content.decode()


def test_a_viewed_page_costs_a_bounded_number_of_queries_more_than_the_partners_own(client, two_partners):
    a, _b = two_partners
    client.force_login(partner_user(a, role="admin"))
    client.get(reverse("deals:order_list"))
    with CaptureQueriesContext(connection) as own:
        client.get(reverse("deals:order_list"))
    client.force_login(staff_user())
    start(client, a)
    client.get(reverse("deals:order_list"))
    with CaptureQueriesContext(connection) as viewed:
        assert client.get(reverse("deals:order_list")).status_code == 200

    # The view's own checks: the permission, "is this a partner user", the open view with its partner.
    assert len(viewed) <= len(own) + 5, [q["sql"] for q in viewed.captured_queries]
