"""The whole program under random sequences of operations (issue 10, "Proof"): imports of orders and credits (some
files with a bad row), tier recomputes, quarter closes, channel locks, routing and re-runs of any of them, in any
order a real program could meet them. After every step:

- every statement's total is the sum of its lines, and the quarter's close record the sum of its statements;
- a close writes exactly the rows of the pure calculation (``calculations.reference_rows``) on a snapshot taken
  just before it: every line's components, credits against their one credited line, late lines included;
- a rejected import changes nothing, and running any job again for a day it ran (or a quarter it closed) changes
  nothing either, ``--force`` included.

Hypothesis' stateful testing (``RuleBasedStateMachine``) draws the sequences; each is rolled back afterwards.
"""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Sum
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from deals.models import ChannelLock, OrderLine, RoutingCase
from partners.models import Partner, TierHistory
from portal.csvimport import ImportRejected, import_file
from portal.fiscal import Quarter
from portal.models import Program
from rebates import calculations as calc
from rebates.models import QuarterClose, RebateLine, Statement
from tests.factories import PartnerFactory
from tests.rebates.test_reference import snapshot, written_rows

HEADER = (
    "order_number,booked_on,channel,partner_code,customer_name,customer_country,customer_vat,customer_domain,"
    "line_number,product_line,sku,description,quantity,net_amount,service_delivery,registration_number,"
    "credits_order_number\n"
)
CUSTOMERS = [("Dupont SA", "FR123456789"), ("Martin SARL", "FR987654321"), ("Bernard SAS", "FR111222333")]
PARTNERS = [("SQ1", "gold"), ("SQ2", "authorized"), ("SQ3", "platinum")]
PRODUCT_LINES = ["server", "storage", "networking", "services", "hci"]
FIRST_QUARTER = Quarter.parse("FY2018-Q1")  # February to April 2017
LAST_DAY = date(2017, 12, 31)
DAYS = st.dates(date(2017, 2, 1), LAST_DAY)
AMOUNTS = st.one_of(
    st.integers(1, 5_000_000).map(lambda cents: Decimal(cents) / 100),
    st.integers(1, 20_000).map(lambda n: Decimal(n * 50 + 25) / 100),  # half-cent ties once rated
)
line = st.tuples(st.sampled_from(PRODUCT_LINES), AMOUNTS, st.sampled_from(["resold", "partner_delivered"]))
order = st.fixed_dictionaries(
    {
        "day": DAYS,
        "partner": st.sampled_from([code for code, _tier in PARTNERS] + [""]),  # "": a direct order
        "customer": st.integers(0, len(CUSTOMERS) - 1),
        "lines": st.lists(line, min_size=1, max_size=3),
    }
)


def fingerprint() -> tuple:
    """What the jobs write, summed: a re-run that changes anything changes this."""
    return (
        OrderLine.objects.aggregate(n=Count("id"), total=Sum("net_amount"))["total"],
        OrderLine.objects.count(),
        tuple(RebateLine.objects.aggregate(n=Count("id"), total=Sum("amount")).values()),
        tuple(Statement.objects.order_by("number").values_list("number", "partner_id", "total")),
        tuple(TierHistory.objects.order_by("id").values_list("partner_id", "to_tier_id", "effective_on")),
        tuple(Partner.objects.order_by("code").values_list("code", "tier_id", "computed_tier_id", "at_risk")),
        tuple(ChannelLock.objects.order_by("customer_id").values_list("customer_id", "partner_id", "expires_on")),
        tuple(RoutingCase.objects.order_by("order_id").values_list("order_id", "status")),
        QuarterClose.objects.count(),
    )


class ProgramMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        for code, tier in PARTNERS:
            PartnerFactory(code=code, name=f"Partner {code}", tier=tier)
        self.numbers = 0
        self.booked: list[dict] = []  # the imported orders: number, day, partner, customer, lines
        self.days_run: dict[str, list[date]] = {"recompute_tiers": [], "apply_channel_locks": [],
                                                 "route_direct_orders": []}  # fmt: skip
        self.delay = Program.current().statement_delay_days

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- imports ------------------------------------------------------------------------------------------

    def _number(self) -> str:
        self.numbers += 1
        return f"SQ-{self.numbers:05d}"

    def _rows(self, spec, number, *, credits: dict | None = None) -> list[str]:
        name, vat = CUSTOMERS[spec["customer"]]
        channel = "partner" if spec["partner"] else "direct"
        rows = []
        for line_number, (product_line, amount, delivery) in enumerate(spec["lines"], start=1):
            delivery = delivery if product_line == "services" else ""
            credited = credits["number"] if credits else ""
            rows.append(
                f"{number},{spec['day']},{channel},{spec['partner']},{name},FR,{vat},,{line_number},{product_line},"
                f"SKU,,1,{amount},{delivery},,{credited}\n"
            )
        return rows

    def _import(self, rows: list[str]) -> bool:
        try:
            import_file(kind="orders", data=(HEADER + "".join(rows)).encode(), name="orders.csv")
        except ImportRejected:
            return False
        return True

    @rule(orders=st.lists(order, min_size=1, max_size=4))
    def import_orders(self, orders):
        rows, specs = [], []
        for spec in orders:
            number = self._number()
            rows += self._rows(spec, number)
            specs.append({**spec, "number": number})
        assert self._import(rows)
        self.booked += specs

    @precondition(lambda self: any(spec["partner"] for spec in self.booked))
    @rule(data=st.data())
    def import_a_credit(self, data):
        credited = data.draw(st.sampled_from([spec for spec in self.booked if spec["partner"]]))
        product_line, amount, delivery = data.draw(st.sampled_from(credited["lines"]))
        share = data.draw(st.sampled_from([1, 2, 3]))
        credit_amount = -max((amount / share).quantize(Decimal("0.01")), Decimal("0.01"))
        day = min(credited["day"] + timedelta(days=data.draw(st.integers(0, 120))), LAST_DAY)
        spec = {**credited, "day": day, "lines": [(product_line, credit_amount, delivery)]}
        assert self._import(self._rows(spec, self._number(), credits=credited))

    @rule(orders=st.lists(order, min_size=1, max_size=3), bad=st.sampled_from(["date", "amount", "country"]))
    def import_a_file_with_a_bad_row(self, orders, bad):
        before = fingerprint()
        rows = []
        for spec in orders:
            rows += self._rows(spec, self._number())
        broken = rows[-1].split(",")
        if bad == "date":
            broken[1] = "2017-02-30"
        elif bad == "amount":
            broken[13] = "1٢.00"  # Arabic-Indic digit
        else:
            broken[5] = "ZZ"
        rows[-1] = ",".join(broken)
        assert not self._import(rows)
        assert fingerprint() == before  # all or nothing

    # --- nightly jobs and the close ----------------------------------------------------------------------------

    def _job(self, command: str, day: date, *, force: bool = False):
        call_command(command, as_of=day.isoformat(), force=force, stdout=io.StringIO())

    @rule(command=st.sampled_from(["recompute_tiers", "apply_channel_locks", "route_direct_orders"]), day=DAYS)
    def run_a_nightly_job(self, command, day):
        self._job(command, day)
        self.days_run[command].append(day)

    @precondition(lambda self: any(self.days_run.values()))
    @rule(data=st.data())
    def run_a_job_again(self, data):
        command = data.draw(st.sampled_from([name for name, days in self.days_run.items() if days]))
        day = data.draw(st.sampled_from(self.days_run[command]))
        latest = max(self.days_run[command])
        before = fingerprint()
        self._job(command, day)  # claimed already: nothing happens, whatever was imported since
        assert fingerprint() == before
        if day == latest:  # forced, it takes in what was imported since; forced again, it changes nothing
            self._job(command, day, force=True)
            once = fingerprint()
            self._job(command, day, force=True)
            assert fingerprint() == once

    def _next_quarter(self) -> Quarter:
        closed = set(QuarterClose.objects.values_list("quarter", flat=True))
        quarter = FIRST_QUARTER
        while str(quarter) in closed:
            quarter = quarter.next()
        return quarter

    @precondition(lambda self: self.booked and self._next_quarter().end < LAST_DAY)
    @rule()
    def close_the_next_quarter(self):
        quarter = self._next_quarter()
        expected = calc.reference_rows(snapshot(), quarter=quarter)
        as_of = quarter.end + timedelta(days=self.delay)
        call_command("close_quarter", str(quarter), as_of=as_of.isoformat(), stdout=io.StringIO())
        written = written_rows(quarter)
        assert written == expected
        event(f"rebate rows written by a close: {min(len(written), 3)}+")  # --hypothesis-show-statistics
        before = fingerprint()
        call_command("close_quarter", str(quarter), as_of=as_of.isoformat(), stdout=io.StringIO())
        assert fingerprint() == before  # closed once

    # --- invariants ---------------------------------------------------------------------------------------------

    @invariant()
    def statements_add_up(self):
        for statement in Statement.objects.annotate(lines_total=Sum("lines__amount")):
            assert statement.total == (statement.lines_total or Decimal("0.00")), statement.number
        for close in QuarterClose.objects.all():
            total = Statement.objects.filter(quarter=close.quarter).aggregate(t=Sum("total"))["t"] or Decimal("0")
            assert close.total == total and close.statements == Statement.objects.filter(quarter=close.quarter).count()

    @invariant()
    def every_rebate_line_is_on_one_statement_of_its_partner(self):
        assert not RebateLine.objects.exclude(statement__partner_id=models_partner_of_line()).exists()


def models_partner_of_line():
    from django.db.models import F

    return F("order_line__partner_id")


@pytest.mark.django_db
def test_random_sequences_of_imports_jobs_closes_and_reruns_keep_the_program_consistent():
    run_state_machine_as_test(
        ProgramMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=15,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
