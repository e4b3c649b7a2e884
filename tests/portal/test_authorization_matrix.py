"""The authorization matrix, generated from the URL configuration (issue 10, "Proof").

Every URL the portal serves outside the admin and the sign-in pages has an entry here, stating from DESIGN §1
who may use it: partner ``admin`` everything of its partner; ``sales`` deals, orders and routed orders; ``finance``
orders and statements. Each entry, and each of its downloads, is then tried as: anonymous; an inactive user; a user
of an inactive partner; a user of another partner; each role of the partner that may not use it; and each role
that may. A URL added without an entry fails ``test_every_url_has_a_matrix_entry``.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from deals.models import RoutingOffer
from deals.routing.services import routing_run
from partners.models import Invitation, Person
from portal.fiscal import Quarter
from rebates import services as rebate_services
from rebates.models import Statement
from tests.factories import MembershipFactory
from tests.factories import rebates as rebate_data
from tests.factories import routing as routing_data
from tests.factories.registrations import RegistrationFactory

ADMIN, SALES, FINANCE = "admin", "sales", "finance"
ROLES = (ADMIN, SALES, FINANCE)


@dataclass(frozen=True)
class Entry:
    roles: tuple[str, ...] = ()  # the partner roles that may use it
    target: str = ""  # which object of the partner the URL names ("" for a page of the partner's own data)
    method: str = "get"
    downloads: tuple[str, ...] = ()  # query strings that turn the page into a download
    public: str = ""  # why it is open to anyone (then no partner check applies)
    shows: str = "partner"  # on a page of the partner's own data: what of the partner it shows


MATRIX: dict[str, Entry] = {
    # Open by design.
    "home": Entry(public="sends each visitor where it belongs (login, admin or dashboard)"),
    "language_switch": Entry(public="sets the language cookie of the browser", method="post"),
    "invitation_accept": Entry(public="the secret token in the emailed link is the authorization", target="token"),
    "health_live": Entry(public="the load balancer's liveness probe: no data"),
    "health_ready": Entry(public="the load balancer's readiness probe: check results, no data"),
    "health_jobs": Entry(public="monitoring: ages and counts, no partner data"),
    "view_as_stop": Entry(
        public="ends the requester's own view as partner, if any (tests/partners/test_view_as.py)", method="post"
    ),
    # The partner's pages (DESIGN §1).
    "dashboard": Entry(roles=ROLES),
    "my_tier": Entry(roles=ROLES),
    "team": Entry(roles=(ADMIN,), shows="membership"),
    "membership_role": Entry(roles=(ADMIN,), target="membership", method="post"),
    "membership_remove": Entry(roles=(ADMIN,), target="membership"),
    "invitation_revoke": Entry(roles=(ADMIN,), target="invitation", method="post"),
    "people": Entry(roles=(ADMIN,), shows="person"),
    "deals:order_list": Entry(roles=ROLES, downloads=("export=csv",), shows="order"),
    "deals:order_detail": Entry(roles=ROLES, target="order"),
    "deals:registration_list": Entry(roles=(ADMIN, SALES), downloads=("export=csv",), shows="registration"),
    "deals:registration_create": Entry(roles=(ADMIN, SALES)),
    "deals:registration_detail": Entry(roles=(ADMIN, SALES), target="registration"),
    "deals:registration_edit": Entry(roles=(ADMIN, SALES), target="registration"),
    "deals:registration_delete_draft": Entry(roles=(ADMIN, SALES), target="registration"),
    "deals:registration_withdraw": Entry(roles=(ADMIN, SALES), target="registration"),
    "deals:registration_lost": Entry(roles=(ADMIN, SALES), target="registration"),
    "deals:registration_extension": Entry(roles=(ADMIN, SALES), target="registration"),
    "deals:routed_list": Entry(roles=(ADMIN, SALES), shows="offer"),
    "deals:routed_accept": Entry(roles=(ADMIN, SALES), target="offer"),
    "deals:routed_decline": Entry(roles=(ADMIN, SALES), target="offer"),
    "rebates:statement_list": Entry(roles=(ADMIN, FINANCE), shows="statement"),
    "rebates:statement_detail": Entry(roles=(ADMIN, FINANCE), target="statement"),
    "rebates:statement_csv": Entry(roles=(ADMIN, FINANCE), target="statement"),
    "rebates:statement_pdf": Entry(roles=(ADMIN, FINANCE), target="statement"),
    # Each user's own API tokens (its POSTs, create and revoke, are proven in tests/api/test_token_page.py).
    "api_tokens": Entry(roles=ROLES),
    "api_webhooks": Entry(roles=(ADMIN,)),  # the partner's webhooks (tests/api/test_webhooks.py for its POSTs)
}


def _skipped(resolver: URLResolver) -> bool:
    """The admin (staff, tested in tests/portal/test_admin_permissions.py), allauth's sign-in pages and the REST
    API (token-authenticated: its own matrix over every operation is tests/api/test_authorization.py)."""
    module = getattr(resolver.urlconf_module, "__name__", "")
    return resolver.app_name in ("admin", "api") or module.startswith("allauth")


def url_names(patterns=None, namespace="") -> set[str]:
    names = set()
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if not _skipped(pattern):
                prefix = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                names |= url_names(pattern.url_patterns, prefix)
        elif isinstance(pattern, URLPattern):
            assert pattern.name, f"every portal URL is named (matrix entries are by name): {pattern.pattern}"
            names.add(namespace + pattern.name)
    return names


def test_every_url_has_a_matrix_entry():
    assert url_names() == set(MATRIX)


# --- the data: partner A with one object of each kind, partner B, an inactive partner ----------------------------


@dataclass
class World:
    a: object
    members: dict  # role → user of A
    other: object  # admin user of partner B
    objects: dict  # target → (URL argument, text that identifies it on a page)
    inactive_user: object
    inactive_partner_user: object


@pytest.fixture
def world(db):
    today = timezone.localdate()
    a, b = routing_data.partner("FR"), routing_data.partner("FR")
    rebate_data.tier_change(a, "gold", date(2017, 2, 1))
    members = {role: MembershipFactory(partner=a, role=role).user for role in ROLES}
    other = MembershipFactory(partner=b, role=ADMIN).user
    order = rebate_data.order(partner=a, customer=rebate_data.customer(), booked_on=date(2017, 3, 1),
                              lines=[("server", "1000.00")], number="SO-MATRIX-A")  # fmt: skip
    rebate_services.quarter_close(quarter=Quarter.parse("FY2018-Q1"), as_of=date(2017, 5, 6))
    statement = Statement.objects.get(partner=a)
    registration = RegistrationFactory(partner=a, status="approved", approved_on=today - timedelta(days=80))
    routed = routing_data.order(customer=routing_data.customer("FR", name="Routed Matrix Customer"),
                                booked_on=today - timedelta(days=1), lines={"server": "5000.00"})  # fmt: skip
    routing_run(as_of=today)
    offer = RoutingOffer.objects.get(case__order=routed)
    assert offer.partner == a  # the lowest id among equals
    colleague = MembershipFactory(partner=a, role=SALES)
    invitation = Invitation.objects.create(
        partner=a, email="new.person@a.example", role=SALES, invited_by=members[ADMIN]
    )
    Person.objects.create(partner=a, name="Matrix Person A", email="person@a.example")
    inactive_user = MembershipFactory(partner=a, role=ADMIN, user__is_active=False).user
    closed = routing_data.partner("FR")
    closed.active = False
    closed.save(update_fields=["active"])
    inactive_partner_user = MembershipFactory(partner=closed, role=ADMIN).user
    objects = {
        "order": (order.number, order.number),
        "statement": (statement.number, statement.number),
        "registration": (registration.number, registration.number),
        "offer": (offer.pk, routed.number),
        "membership": (colleague.pk, colleague.user.email),
        "invitation": (invitation.pk, invitation.email),
        "token": (invitation.token, invitation.email),
        "person": (None, "Matrix Person A"),
        "partner": (None, a.name),
    }
    return World(a, members, other, objects, inactive_user, inactive_partner_user)


def _url(name: str, entry: Entry, world: World) -> str:
    if not entry.target:
        return reverse(name)
    argument = world.objects[entry.target][0]
    key = {"offer": "pk", "membership": "pk", "invitation": "pk", "token": "token"}.get(entry.target, "number")
    return reverse(name, kwargs={key: argument})


def _marker(entry: Entry, world: World) -> str:
    """Text of partner A that a page of another partner must never show."""
    return str(world.objects[entry.target or entry.shows][1])


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _request(client, name: str, entry: Entry, url: str):
    data = {"role": SALES} if name == "membership_role" else {}
    return getattr(client, entry.method)(url, data)


def _cases():
    for name, entry in sorted(MATRIX.items()):
        if entry.public:
            continue
        yield name, ""
        for query in entry.downloads:
            yield name, query


CASES = list(_cases())


def _refused_as_signed_out(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize(("name", "query"), CASES)
def test_only_the_roles_design_gives_reach_the_url(client, world, name, query):
    """Anonymous and inactive users are sent to sign in; a user of an inactive partner and the partner's roles
    without the right are refused; another partner gets a 404 for the partner's objects and never sees them in its
    own lists; the roles with the right reach it."""
    entry = MATRIX[name]
    url = _url(name, entry, world) + (f"?{query}" if query else "")

    assert _refused_as_signed_out(_request(client, name, entry, url)), "anonymous"
    client.force_login(world.inactive_user)
    assert _refused_as_signed_out(_request(client, name, entry, url)), "inactive user"
    client.force_login(world.inactive_partner_user)
    assert _request(client, name, entry, url).status_code == 403, "user of an inactive partner"

    client.force_login(world.other)
    response = _request(client, name, entry, url)
    if entry.target:
        assert response.status_code == 404, "another partner"
    else:
        assert response.status_code == 200 and _marker(entry, world).encode() not in _body(response)

    for role in ROLES:
        client.force_login(world.members[role])
        response = _request(client, name, entry, url)
        if role not in entry.roles:
            assert response.status_code == 403, (role, response.status_code)
        else:
            assert response.status_code in (200, 302), (role, response.status_code)
            assert not _refused_as_signed_out(response), role
            if not entry.target and entry.method == "get":  # the positive control of the other-partner check
                assert _marker(entry, world).encode() in _body(response), role


def test_the_downloads_of_the_matrix_are_downloads(client, world):
    client.force_login(world.members[ADMIN])
    for name, query in CASES:
        if query:
            response = client.get(_url(name, MATRIX[name], world) + f"?{query}")
            assert response["Content-Type"].startswith("text/csv"), name
    statement = world.objects["statement"][0]
    assert client.get(reverse("rebates:statement_csv", args=[statement]))["Content-Type"].startswith("text/csv")
    pdf = client.get(reverse("rebates:statement_pdf", args=[statement]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_the_public_entries_say_why_and_the_invitation_token_is_the_only_key(client, world):
    assert all(entry.public for entry in MATRIX.values() if not entry.roles)
    assert client.get(reverse("invitation_accept", kwargs={"token": "not-the-token"})).status_code == 404
    assert client.get(_url("invitation_accept", MATRIX["invitation_accept"], world)).status_code == 200
