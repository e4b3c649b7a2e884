"""The request memo: the program and the tiers are read once per request, afresh after a save, and every time
outside a request (a job or a worker never keeps a stale copy)."""

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from partners.models import Tier
from partners.selectors import tiers_by_code
from portal.memo import RequestMemoMiddleware
from portal.models import Program

pytestmark = pytest.mark.django_db


def in_request(view):
    """Run ``view()`` inside the middleware, as a page does; return what it returned."""
    seen = {}

    def get_response(request):
        seen["result"] = view()
        return HttpResponse()

    RequestMemoMiddleware(get_response)(RequestFactory().get("/"))
    return seen["result"]


def program_table_reads(captured) -> int:
    return sum('FROM "portal_program"' in query["sql"] for query in captured.captured_queries)


def test_a_request_reads_the_program_once():
    Program.current()

    def view():
        with CaptureQueriesContext(connection) as captured:
            first, second, third = Program.current(), Program.current(), Program.current()
        return program_table_reads(captured), first is second is third

    assert in_request(view) == (1, True)


def test_outside_a_request_every_call_reads_the_program_so_another_process_change_is_seen():
    Program.current()
    with CaptureQueriesContext(connection) as captured:
        Program.current()
        Program.current()
    assert program_table_reads(captured) == 2
    Program.objects.filter(pk=1).update(routing_offer_days=9)  # as another process would
    assert Program.current().routing_offer_days == 9


def test_a_save_during_the_request_is_read_by_the_rest_of_it():
    def view():
        before = Program.current().registration_extension_days
        edited = Program.objects.get(pk=1)  # as the admin's change form saves its own instance
        edited.registration_extension_days = before + 7
        edited.save()
        return before, Program.current().registration_extension_days

    before, after = in_request(view)
    assert after == before + 7


def test_the_memo_ends_with_its_request():
    in_request(Program.current)
    Program.objects.filter(pk=1).update(statement_delay_days=11)
    assert in_request(lambda: Program.current().statement_delay_days) == 11


def test_tiers_are_read_once_per_request_and_afresh_after_a_tier_is_saved():
    def view():
        with CaptureQueriesContext(connection) as captured:
            tiers_by_code()
            tiers_by_code()
        reads = sum('FROM "partners_tier"' in query["sql"] for query in captured.captured_queries)
        gold = Tier.objects.get(code="gold")
        gold.protection_days = 123
        gold.save()
        return reads, tiers_by_code()["gold"].protection_days, list(tiers_by_code())

    reads, protection_days, codes = in_request(view)
    assert reads == 1
    assert protection_days == 123
    ranks = dict(Tier.objects.values_list("code", "rank"))
    assert codes == sorted(codes, key=lambda code: ranks[code])
