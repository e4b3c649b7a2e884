"""The staff console's home: what needs action, counted with a link to the list that works it; the registration
queue opens on what awaits a decision; read-only records show no Save button."""

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from deals.models import Registration, RoutingOffer
from partners.models import CertificationRecord
from portal.models import JobItemFailure
from tests.factories import PartnerFactory, UserFactory
from tests.factories.registrations import RegistrationFactory

pytestmark = pytest.mark.django_db
HOME = reverse("admin:index")
REGISTRATIONS = reverse("admin:deals_registration_changelist")


def items(response) -> dict[str, tuple[int, str, bool]]:
    return {item["key"]: (item["count"], item["url"], item["urgent"]) for item in response.context["staff_actions"]}


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_the_home_counts_each_kind_of_work_and_links_to_exactly_those(client, staff):
    now = timezone.now()
    RegistrationFactory(submitted_at=now - timedelta(hours=2))
    old = RegistrationFactory(submitted_at=now - timedelta(hours=60))
    RegistrationFactory(customer=old.customer, conflict_with=old, submitted_at=now - timedelta(hours=1))
    RegistrationFactory(status=Registration.Status.APPROVED, approved_on=date(2026, 1, 1))  # decided: not counted
    now_ = timezone.now()
    JobItemFailure.objects.create(job="route_direct_orders", item="order SO-1", period="2026-12-01", error="boom",
                                  first_seen=now_, last_seen=now_)  # fmt: skip
    response = client.get(HOME)
    assert response.status_code == 200
    found = items(response)
    assert found["registrations_pending"][0] == 3
    assert found["registrations_overdue"][:1] == (1,) and found["registrations_overdue"][2] is True
    assert found["registrations_conflict"][0] == 1
    assert found["job_item_failures"][0] == 1
    assert found["certifications_pending"][0] == 0
    assert found["quarters_due"][0] > 0 and found["quarters_due"][2] is True  # none closed since 2017
    content = response.content.decode()
    assert "Needs action" in content and "Registrations past the decision target" in content
    # Each link lists exactly what was counted.
    for key in ("registrations_pending", "registrations_overdue", "registrations_conflict"):
        count, url, _urgent = found[key]
        assert client.get(url).context["cl"].result_count == count
    keys = [item["key"] for item in response.context["staff_actions"]]
    assert keys.index("registrations_pending") < keys.index("certifications_pending")  # work first


def test_the_home_counts_pending_certifications_and_routed_offers_due(client, staff):
    from deals.routing.services import routing_run
    from tests.factories import CertificationRecordFactory
    from tests.factories import routing as routing_data

    CertificationRecordFactory(status=CertificationRecord.Status.PENDING)
    CertificationRecordFactory()  # verified
    routing_data.partner("FR")
    today = timezone.localdate()
    routing_data.order(customer=routing_data.customer("FR"), booked_on=today - timedelta(days=3))
    routing_run(as_of=today - timedelta(days=2))
    offer = RoutingOffer.objects.get()
    found = items(client.get(HOME))
    assert found["certifications_pending"][0] == 1
    assert client.get(found["certifications_pending"][1]).context["cl"].result_count == 1
    expected = 1 if offer.respond_by <= today + timedelta(days=1) else 0
    assert found["routed_offers_due"][0] == expected
    RoutingOffer.objects.update(respond_by=today)
    assert items(client.get(HOME))["routed_offers_due"][0] == 1
    RoutingOffer.objects.update(respond_by=today + timedelta(days=5))
    assert items(client.get(HOME))["routed_offers_due"][0] == 0


def test_the_home_runs_a_bounded_number_of_queries(client, staff, django_assert_max_num_queries):
    for _ in range(5):
        RegistrationFactory()
    client.get(HOME)
    with django_assert_max_num_queries(30):
        client.get(HOME)


def test_staff_see_only_the_items_of_what_they_may_view(client):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_registration"))
    client.force_login(user)
    keys = set(items(client.get(HOME)))
    assert "registrations_pending" in keys and "certifications_pending" not in keys and "job_item_failures" not in keys


def test_partner_users_never_reach_the_home(client):
    from tests.factories import MembershipFactory

    client.force_login(MembershipFactory().user)
    assert client.get(HOME).status_code == 302


def test_the_registration_queue_opens_on_what_awaits_a_decision_and_all_is_one_click_away(client, staff):
    waiting = RegistrationFactory()
    decided = RegistrationFactory(status=Registration.Status.APPROVED, approved_on=date(2026, 1, 1))
    opened = client.get(REGISTRATIONS)
    assert list(opened.context["cl"].result_list) == [waiting]
    everything = client.get(REGISTRATIONS, {"queue": "all"})
    assert set(everything.context["cl"].result_list) == {waiting, decided}
    assert "?queue=all" in opened.content.decode()


def test_a_registration_changed_only_through_decisions_shows_no_save_button(client, staff):
    registration = RegistrationFactory(partner=PartnerFactory())
    content = client.get(reverse("admin:deals_registration_change", args=[registration.pk])).content.decode()
    assert 'name="_save"' not in content and 'name="_continue"' not in content


def test_staff_sign_in_on_a_staff_worded_page_partners_on_theirs(client):
    staff_page = client.get(HOME, follow=True).content.decode()
    assert "Channel staff sign-in" in staff_page and "Sign in to the Partner Portal" not in staff_page
    partner_page = client.get(reverse("account_login")).content.decode()
    assert "Sign in to the Partner Portal" in partner_page and "Channel staff sign-in" not in partner_page


def test_the_home_counts_the_quarters_due_and_not_closed(client, staff):
    from rebates.services import quarter_close, quarters_due

    due = quarters_due(as_of=timezone.localdate())
    assert items(client.get(HOME))["quarters_due"][0] == len(due) > 1
    quarter_close(quarter=due[0], as_of=due[0].end + timedelta(days=30))
    assert items(client.get(HOME))["quarters_due"][0] == len(due) - 1
