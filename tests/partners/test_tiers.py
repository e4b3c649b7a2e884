"""The tier engine on the database (DESIGN §3): figures over the window, evaluations, history, Titanium Black,
overrides, emails, commands and the export."""

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners import selectors
from partners.models import Certification, DellOnlyAttestation, Partner, Tier, TierHistory, TitaniumBlackAward
from partners.services import partner_create
from partners.tiers import awards, engine, overview
from portal.emails import outbox_render
from portal.models import JobRun, OutboxEmail, Program
from tests.factories import (
    CertificationRecordFactory,
    MembershipFactory,
    OrderFactory,
    OrderLineFactory,
    PartnerFactory,
    PersonFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SCENARIO = Path(__file__).resolve().parents[3] / "shared" / "examples" / "scenario-7"


def make_partner(legacy_dell="", legacy_emc="", country="FR", **kwargs) -> Partner:
    partner = PartnerFactory(legacy_dell_tier=legacy_dell, legacy_emc_tier=legacy_emc, country=country, **kwargs)
    return partner


def book(partner, booked_on, amount, product_line="server", **order_kwargs):
    order = OrderFactory(partner=partner, booked_on=booked_on, **order_kwargs)
    return OrderLineFactory(order=order, product_line=product_line, net_amount=Decimal(amount))


def certify(partner, people, *, earned_on=date(2016, 6, 1), expires_on=None, code="TECH-SERVER"):
    certification = Certification.objects.get(code=code)
    for _n in range(people):
        CertificationRecordFactory(
            person=PersonFactory(partner=partner),
            certification=certification,
            earned_on=earned_on,
            expires_on=expires_on,
        )


def gold_training(partner, booked_on=date(2017, 1, 15), revenue="690000.00"):
    """Exactly the Gold training path of EMEA-1: 750,000 revenue (60,000 of services), 4 people, 1 competency."""
    book(partner, booked_on, revenue)
    book(partner, booked_on, "60000.00", product_line="services")
    certify(partner, 4)


def evaluation(partner, as_of) -> engine.TierEvaluation:
    (result,) = engine.tier_evaluations(as_of=as_of, partner_ids=[partner.pk])
    return result


def tier_code(partner, day) -> str:
    return selectors.partner_tier_on(partner, day).code


# --- figures ------------------------------------------------------------------------------------------------


def test_the_window_excludes_an_order_booked_exactly_12_months_before_and_includes_the_next_day():
    partner = make_partner()
    book(partner, date(2016, 6, 1), "100.00")
    book(partner, date(2016, 6, 2), "20.00")
    book(partner, date(2017, 6, 1), "3.00")
    book(partner, date(2017, 6, 2), "4000.00")
    assert evaluation(partner, date(2017, 6, 1)).raw.qualifying_revenue == Decimal("23.00")


def test_credits_and_accepted_routed_orders_count_and_other_partners_and_direct_orders_do_not():
    partner, other = make_partner(), make_partner()
    original = book(partner, date(2017, 3, 1), "1000.00", product_line="services")
    credit_order = OrderFactory(partner=partner, customer=original.customer, booked_on=date(2017, 3, 5))
    OrderLineFactory(
        order=credit_order, product_line="services", net_amount=Decimal("-250.00"), credited_order=original.order
    )
    routed = OrderFactory(partner=partner, channel="direct", booked_on=date(2017, 3, 2))
    OrderLineFactory(order=routed, net_amount=Decimal("500.00"))
    direct = OrderFactory(partner=None, channel="direct", booked_on=date(2017, 3, 2))
    OrderLineFactory(order=direct, net_amount=Decimal("9999.00"))
    book(other, date(2017, 3, 2), "7.00")
    figures = evaluation(partner, date(2017, 4, 1)).raw
    assert (figures.qualifying_revenue, figures.services_revenue) == (Decimal("1250.00"), Decimal("750.00"))


def test_certifications_count_while_active_and_not_once_expired_the_day_before():
    partner = make_partner()
    day = date(2017, 6, 1)
    certify(partner, 1, earned_on=date(2016, 1, 1), expires_on=day - timedelta(days=1))
    certify(partner, 1, earned_on=date(2016, 1, 1), expires_on=day)  # expires_on is exclusive
    certify(partner, 1, earned_on=day + timedelta(days=1))  # not yet earned
    certify(partner, 2, earned_on=day, code="TECH-STORAGE")
    certify(partner, 1, earned_on=date(2016, 1, 1), expires_on=day + timedelta(days=1), code="SALES-SERVER")
    figures = evaluation(partner, day).raw
    assert figures.certified_people == 3
    assert figures.competencies == 1  # storage; a sales record is no competency


def test_one_person_with_two_records_is_one_certified_person_with_two_competencies():
    partner = make_partner()
    person = PersonFactory(partner=partner)
    for code in ["TECH-SERVER", "TECH-HCI", "SALES-STORAGE"]:
        CertificationRecordFactory(
            person=person, certification=Certification.objects.get(code=code), earned_on=date(2017, 1, 1)
        )
    figures = evaluation(partner, date(2017, 6, 1)).raw
    assert (figures.certified_people, figures.competencies) == (1, 2)


def test_an_active_attestation_multiplies_the_revenue_and_reaches_gold():
    partner = make_partner()
    book(partner, date(2017, 1, 15), "552000.00")
    book(partner, date(2017, 1, 15), "48000.00", product_line="services")  # 600,000 × 1.25 = 750,000
    certify(partner, 4)
    assert evaluation(partner, date(2017, 3, 1)).computed_tier == "authorized"
    DellOnlyAttestation.objects.create(partner=partner, starts_on=date(2017, 3, 1), ends_on=date(2017, 4, 1))
    attested = evaluation(partner, date(2017, 3, 1))
    assert attested.attested and attested.computed_tier == "gold"
    assert attested.figures.qualifying_revenue == Decimal("750000.00")
    assert evaluation(partner, date(2017, 4, 1)).computed_tier == "authorized"  # ends_on is exclusive


def test_the_default_zone_has_half_the_revenue_thresholds():
    partner = make_partner(country="BE")
    book(partner, date(2017, 1, 15), "345000.00")
    book(partner, date(2017, 1, 15), "30000.00", product_line="services")
    certify(partner, 4)
    assert evaluation(partner, date(2017, 3, 1)).computed_tier == "gold"


# --- evaluations and history --------------------------------------------------------------------------------


def test_an_upgrade_is_written_with_its_reason_and_figures_and_the_partner_is_updated():
    partner = make_partner()
    gold_training(partner)
    engine.tier_recompute_all(as_of=date(2017, 3, 1))
    change = TierHistory.objects.filter(partner=partner).order_by("-id").first()
    assert (change.from_tier.code, change.to_tier.code, change.effective_on, change.reason) == (
        "authorized",
        "gold",
        date(2017, 3, 1),
        "upgrade",
    )
    assert change.figures["qualifying_revenue"] == "750000.00"
    assert change.figures["certified_people"] == 4
    partner.refresh_from_db()
    assert (partner.tier.code, partner.computed_tier.code, partner.at_risk, partner.evaluated_on) == (
        "gold",
        "gold",
        False,
        date(2017, 3, 1),
    )


def test_a_status_matched_partner_keeps_its_tier_all_first_year_and_loses_it_at_the_review():
    partner = make_partner(legacy_dell="premier_plus")
    for month in range(2, 13):
        engine.tier_recompute_all(as_of=date(2017, month, 1))
        assert tier_code(partner, date(2017, month, 1)) == "titanium"
    engine.tier_recompute_all(as_of=date(2018, 1, 31))
    partner.refresh_from_db()
    assert partner.tier.code == "titanium" and partner.at_risk
    assert "annual review on 2018-02-01" in partner.at_risk_reason
    engine.tier_recompute_all(as_of=date(2018, 2, 1))
    partner.refresh_from_db()
    assert (partner.tier.code, partner.at_risk) == ("authorized", False)
    assert TierHistory.objects.get(partner=partner, effective_on=date(2018, 2, 1)).reason == "annual_review"


def test_a_partner_that_joins_mid_year_keeps_its_status_matched_tier_until_a_review_12_months_later():
    partner = make_partner(legacy_dell="premier_plus", joined_on=date(2017, 6, 1))  # titanium from 2017-06-01
    assert tier_code(partner, date(2017, 5, 31)) == "authorized"
    assert tier_code(partner, date(2017, 6, 1)) == "titanium"
    engine.tier_recompute_all(as_of=date(2017, 5, 1))  # not a partner yet: nothing is written
    assert TierHistory.objects.filter(partner=partner).count() == 1
    engine.tier_recompute_all(as_of=date(2018, 2, 1))  # the program's review, 8 months after it joined
    partner.refresh_from_db()
    assert (partner.tier.code, partner.at_risk) == ("titanium", True)
    assert "annual review on 2019-02-01" in partner.at_risk_reason
    engine.tier_recompute_all(as_of=date(2019, 2, 1))  # its first review
    assert tier_code(partner, date(2019, 2, 1)) == "authorized"
    assert TierHistory.objects.get(partner=partner, effective_on=date(2019, 2, 1)).reason == "annual_review"


def test_a_partner_created_by_staff_today_is_not_downgraded_by_its_first_evaluation():
    today = timezone.localdate()
    partner = partner_create(code="ADM1", name="Created Today", country="FR", legacy_dell_tier="premier")
    engine.tier_recompute_all(as_of=today)
    partner.refresh_from_db()
    assert partner.tier.code == "platinum"  # status-matched today; its first review is a year or more away
    assert TierHistory.objects.filter(partner=partner).count() == 1


def test_mid_year_a_lower_tier_only_flags_at_risk_and_the_next_review_downgrades():
    partner = make_partner(legacy_emc="gold")  # platinum by status match
    gold_training(partner, booked_on=date(2017, 6, 1))
    engine.tier_recompute_all(as_of=date(2018, 2, 1))  # annual review: platinum → gold
    assert tier_code(partner, date(2018, 2, 1)) == "gold"
    engine.tier_recompute_all(as_of=date(2018, 6, 2))  # the order left the window: computed authorized
    partner.refresh_from_db()
    assert tier_code(partner, date(2018, 6, 2)) == "gold"
    assert partner.at_risk and partner.computed_tier.code == "authorized"
    assert "revenue" in partner.at_risk_reason
    engine.tier_recompute_all(as_of=date(2019, 2, 5))  # the first evaluation of FY2020 is its review
    assert tier_code(partner, date(2019, 2, 5)) == "authorized"
    assert TierHistory.objects.filter(partner=partner, reason="annual_review").count() == 2


def test_only_the_first_evaluation_of_the_year_is_the_review():
    partner = make_partner(legacy_emc="gold")
    gold_training(partner, booked_on=date(2017, 3, 1))  # still in the window on 2018-02-01, out by 2018-03-02
    engine.tier_recompute_all(as_of=date(2018, 2, 1))
    engine.tier_recompute_all(as_of=date(2018, 3, 2))
    assert tier_code(partner, date(2018, 3, 2)) == "gold"
    partner.refresh_from_db()
    assert partner.at_risk


def test_a_second_run_is_a_no_op_and_a_forced_rerun_gives_the_same_result():
    partner = make_partner(legacy_emc="gold")
    gold_training(partner)
    other = make_partner()
    gold_training(other)
    assert engine.tier_recompute_all(as_of=date(2018, 2, 1)) is not None
    state = list(Partner.objects.order_by("pk").values())
    history = list(TierHistory.objects.order_by("pk").values("partner", "to_tier", "effective_on", "reason"))
    assert engine.tier_recompute_all(as_of=date(2018, 2, 1)) is None
    result = engine.tier_recompute_all(as_of=date(2018, 2, 1), force=True)
    assert result["changes"] == 0
    assert list(Partner.objects.order_by("pk").values()) == state
    assert list(TierHistory.objects.order_by("pk").values("partner", "to_tier", "effective_on", "reason")) == history
    assert JobRun.objects.get(name="tiers.recompute", period="2018-02-01").runs == 2


def test_the_tier_on_a_date_follows_every_change_with_ties_to_the_latest_row():
    partner = make_partner(legacy_dell="preferred")  # gold from 2017-02-01
    staff = UserFactory(is_staff=True)
    awards.tier_override(
        partner=partner, tier="platinum", reason="merger", effective_on=date(2017, 5, 1), changed_by=staff
    )
    awards.tier_override(
        partner=partner, tier="titanium", reason="correction", effective_on=date(2017, 5, 1), changed_by=staff
    )
    awards.titanium_black_award(
        partner=partner, sponsor="VP EMEA", reason="strategic", awarded_on=date(2017, 6, 10), awarded_by=staff
    )
    expected = {
        date(2017, 1, 31): "authorized",
        date(2017, 2, 1): "gold",
        date(2017, 4, 30): "gold",
        date(2017, 5, 1): "titanium",
        date(2017, 6, 9): "titanium",
        date(2017, 6, 10): "titanium_black",
    }
    for day, code in expected.items():
        assert tier_code(partner, day) == code, day
        assert selectors.partners_tier_on([partner.pk], day)[partner.pk].code == code


def test_an_evaluation_does_not_overwrite_the_pages_state_of_a_later_one():
    partner = make_partner()
    gold_training(partner, booked_on=date(2017, 5, 1))
    engine.tier_recompute_all(as_of=date(2017, 6, 1))
    engine.tier_recompute_all(as_of=date(2017, 4, 1))
    partner.refresh_from_db()
    assert (partner.tier.code, partner.evaluated_on) == ("gold", date(2017, 6, 1))
    assert tier_code(partner, date(2017, 4, 1)) == "authorized"


def test_every_partner_a_chunk_evaluates_is_stamped_changed_or_not_and_the_others_of_its_range_are_not(settings):
    # A changed partner gets its stamp with its new state, an unchanged one by the chunk's id range: both must
    # be stamped, and the inactive and not yet joined partners of the range must keep theirs.
    settings.TIERS_CHUNK_PARTNERS = 2
    changed, unchanged, inactive, joining = (make_partner() for _n in range(4))
    gold_training(changed)
    Partner.objects.filter(pk=inactive.pk).update(active=False)
    Partner.objects.filter(pk=joining.pk).update(joined_on=date(2017, 4, 1))
    engine.tier_recompute_all(as_of=date(2017, 3, 1))
    stamps = dict(Partner.objects.values_list("pk", "evaluated_on"))
    assert [stamps[p.pk] for p in (changed, unchanged, inactive, joining)] == [date(2017, 3, 1)] * 2 + [None] * 2
    assert TierHistory.objects.filter(partner=changed, effective_on=date(2017, 3, 1)).exists()


def test_inactive_partners_are_not_evaluated():
    partner = make_partner(active=False)
    gold_training(partner)
    assert engine.tier_recompute_all(as_of=date(2017, 3, 1))["evaluated"] == 0
    assert tier_code(partner, date(2017, 3, 1)) == "authorized"


def test_the_evaluation_is_a_fixed_number_of_queries_whatever_the_number_of_partners():
    def queries_for(count):
        for _n in range(count):
            gold_training(make_partner(legacy_dell="preferred"))
        with CaptureQueriesContext(connection) as captured:
            engine.tier_evaluate(as_of=date(2017, 3, 1) + timedelta(days=count))
        return len(captured)

    assert queries_for(2) == queries_for(8)


def test_an_evaluation_read_by_id_range_is_the_evaluation_of_its_ids_and_nothing_else_of_the_range():
    # A chunk reads figures, history and attestations for its id range, not its list of ids: partners of the
    # range left out (inactive, or not asked for) must neither appear nor change the others' figures.
    partners = [make_partner(legacy_dell=legacy) for legacy in ("", "preferred", "premier_plus", "", "", "")]
    gold_training(partners[0])
    gold_training(partners[1], revenue="100000.00")
    book(partners[2], date(2017, 1, 20), "5000.00", product_line="services")
    certify(partners[3], 2, code="TECH-SERVER")
    book(partners[4], date(2017, 2, 1), "600000.00")
    DellOnlyAttestation.objects.create(partner=partners[4], starts_on=date(2017, 1, 1))
    for other in (partners[1], partners[5]):  # data of partners in the range, left out of the ids
        gold_training(other)
        DellOnlyAttestation.objects.create(partner=other, starts_on=date(2017, 1, 1))
    Partner.objects.filter(pk=partners[5].pk).update(active=False)
    engine.tier_evaluate(as_of=date(2017, 2, 1))  # some history to read
    as_of = date(2017, 3, 1)
    ids = [partner.pk for partner in partners if partner is not partners[1]]
    lo, hi = min(partner.pk for partner in partners), max(partner.pk for partner in partners)

    def described(evaluations):
        return [
            (e.partner.pk, e.tier, e.tier_id, e.zone, e.raw, e.figures, e.attested, e.computed_tier, e.figures_json())
            for e in evaluations
        ]

    by_ids = described(engine.tier_evaluations(as_of=as_of, partner_ids=ids))
    by_range = described(engine.tier_evaluations(as_of=as_of, partner_ids=ids, id_range=(lo, hi)))
    assert by_range == by_ids
    assert {row[0] for row in by_range} == set(ids) - {partners[5].pk}
    assert any(row[6] for row in by_range) and any(row[1] != "authorized" for row in by_range)


# --- Titanium Black -----------------------------------------------------------------------------------------


def titanium_partner():
    return make_partner(legacy_dell="premier_plus")


def test_titanium_black_is_awarded_to_titanium_partners_only_for_one_year():
    staff = UserFactory(is_staff=True)
    with pytest.raises(ValidationError):
        awards.titanium_black_award(
            partner=make_partner(legacy_dell="premier"), sponsor="VP", reason="r", awarded_on=date(2017, 3, 1)
        )
    partner = titanium_partner()
    with pytest.raises(ValidationError):
        awards.titanium_black_award(partner=partner, sponsor="", reason="r", awarded_on=date(2017, 3, 1))
    award = awards.titanium_black_award(
        partner=partner, sponsor="VP", reason="strategic", awarded_on=date(2017, 3, 1), awarded_by=staff
    )
    assert award.ends_on == date(2018, 3, 1)
    partner.refresh_from_db()
    assert partner.tier.code == "titanium_black"
    with pytest.raises(ValidationError):
        awards.titanium_black_award(partner=partner, sponsor="VP", reason="again", awarded_on=date(2017, 4, 1))


def test_titanium_black_expires_on_its_end_date_once():
    partner = titanium_partner()
    award = awards.titanium_black_award(partner=partner, sponsor="VP", reason="r", awarded_on=date(2017, 3, 1))
    assert engine.titanium_black_expire_due(as_of=date(2018, 2, 28)) == {"expired": 0}
    assert engine.titanium_black_expire_due(as_of=date(2018, 3, 5)) == {"expired": 1}
    assert engine.titanium_black_expire_due(as_of=date(2018, 3, 5), force=True) == {"expired": 0}
    assert tier_code(partner, date(2018, 2, 28)) == "titanium_black"
    assert tier_code(partner, date(2018, 3, 1)) == "titanium"
    award.refresh_from_db()
    assert (award.ended_on, award.end_reason) == (date(2018, 3, 1), "titanium_black_expiry")
    assert TierHistory.objects.filter(partner=partner, reason="titanium_black_expiry").count() == 1


def test_a_recompute_applies_due_expiries_first_so_the_history_stays_complete():
    partner = titanium_partner()
    awards.titanium_black_award(partner=partner, sponsor="VP", reason="r", awarded_on=date(2017, 3, 1))
    engine.tier_recompute_all(as_of=date(2018, 3, 10))
    assert tier_code(partner, date(2018, 3, 1)) == "titanium"


def test_titanium_black_revocation_returns_to_titanium_from_that_day():
    partner = titanium_partner()
    award = awards.titanium_black_award(partner=partner, sponsor="VP", reason="r", awarded_on=date(2017, 3, 1))
    with pytest.raises(ValidationError):
        awards.titanium_black_revoke(award=award, revoked_on=date(2018, 3, 1), reason="out of range")
    awards.titanium_black_revoke(award=award, revoked_on=date(2017, 9, 1), reason="audit")
    assert tier_code(partner, date(2017, 8, 31)) == "titanium_black"
    assert tier_code(partner, date(2017, 9, 1)) == "titanium"
    with pytest.raises(ValidationError):
        awards.titanium_black_revoke(award=award, revoked_on=date(2017, 10, 1), reason="twice")
    assert engine.titanium_black_expire_due(as_of=date(2018, 4, 1)) == {"expired": 0}


def test_the_annual_review_below_titanium_ends_titanium_black():
    partner = titanium_partner()
    gold_training(partner, booked_on=date(2017, 6, 1))
    award = awards.titanium_black_award(partner=partner, sponsor="VP", reason="r", awarded_on=date(2017, 6, 1))
    engine.tier_recompute_all(as_of=date(2017, 7, 1))
    assert tier_code(partner, date(2017, 7, 1)) == "titanium_black"
    engine.tier_recompute_all(as_of=date(2018, 2, 1))
    assert tier_code(partner, date(2018, 2, 1)) == "gold"
    award.refresh_from_db()
    assert (award.ended_on, award.end_reason) == (date(2018, 2, 1), "annual_review")
    change = TierHistory.objects.get(partner=partner, effective_on=date(2018, 2, 1))
    assert (change.from_tier.code, change.reason) == ("titanium_black", "annual_review")


def test_an_override_needs_a_reason_cannot_give_titanium_black_and_ends_an_award():
    partner = titanium_partner()
    staff = UserFactory(is_staff=True)
    award = awards.titanium_black_award(partner=partner, sponsor="VP", reason="r", awarded_on=date(2017, 3, 1))
    with pytest.raises(ValidationError):
        awards.tier_override(partner=partner, tier="gold", reason=" ", effective_on=date(2017, 4, 1), changed_by=staff)
    with pytest.raises(ValidationError):
        awards.tier_override(
            partner=partner, tier="titanium_black", reason="x", effective_on=date(2017, 4, 1), changed_by=staff
        )
    change = awards.tier_override(
        partner=partner, tier="gold", reason="contract breach", effective_on=date(2017, 4, 1), changed_by=staff
    )
    assert (change.reason, change.note, change.changed_by) == ("manual_override", "contract breach", staff)
    award.refresh_from_db()
    assert award.ended_on == date(2017, 4, 1)
    assert tier_code(partner, date(2017, 4, 1)) == "gold"


def test_the_cached_tier_is_the_tier_today_a_change_dated_later_shows_from_its_day():
    partner = titanium_partner()
    staff = UserFactory(is_staff=True)
    tomorrow = timezone.localdate() + timedelta(days=1)
    awards.tier_override(partner=partner, tier="gold", reason="from tomorrow", effective_on=tomorrow, changed_by=staff)
    partner.refresh_from_db()
    assert partner.tier.code == "titanium" == selectors.partner_tier_on(partner, timezone.localdate()).code
    assert selectors.partner_tier_on(partner, tomorrow).code == "gold"


@pytest.mark.parametrize("code", ["authorized", "gold", "platinum", "titanium", "titanium_black"])
def test_the_test_builders_write_the_history_and_the_cache_agrees(code):
    partner = PartnerFactory(tier=code)
    start = Program.current().start_date
    assert partner.tier.code == code
    assert selectors.partner_tier_on(partner, start).code == code
    assert selectors.partner_tier_on(partner, start - timedelta(days=1)).code == "authorized"
    reasons = list(TierHistory.objects.filter(partner=partner).order_by("id").values_list("reason", flat=True))
    assert reasons[0] == "status_match"


def test_the_engine_orders_tiers_by_the_rank_in_the_tier_table():
    """The rules read the ranks from the table: spaced ranks change nothing, and the table's order is the one
    evaluations follow (ranks here reversed between gold and platinum)."""
    partner = make_partner()
    gold_training(partner)
    for code, rank in [("authorized", 10), ("platinum", 20), ("gold", 30), ("titanium", 40)]:
        Tier.objects.filter(code=code).update(rank=rank)
    assert selectors.tier_ranks() == {"authorized": 10, "platinum": 20, "gold": 30, "titanium": 40}
    assert evaluation(partner, date(2017, 3, 1)).computed_tier == "gold"
    assert overview.tier_overview(partner=partner, as_of=date(2017, 3, 1)).next_tier.code == "platinum"


# --- emails -------------------------------------------------------------------------------------------------


def test_tier_change_and_at_risk_emails_go_to_the_partner_admins_once():
    upgrade = make_partner()
    gold_training(upgrade)
    admin = MembershipFactory(partner=upgrade, role="admin")
    MembershipFactory(partner=upgrade, role="sales")
    risky = make_partner(legacy_emc="gold")
    risky_admin = MembershipFactory(partner=risky, role="admin", user__language="fr")
    for day in [date(2017, 3, 1), date(2017, 4, 1)]:
        engine.tier_recompute_all(as_of=day)
    engine.tier_recompute_all(as_of=date(2017, 4, 1), force=True)
    outbox_render()  # rendered as the send task renders it (not sent)
    changed = OutboxEmail.objects.filter(key__startswith="tier-changed:")
    assert [email.to for email in changed] == [[admin.user.email]]
    assert "Gold" in changed.get().subject
    at_risk = OutboxEmail.objects.filter(key__startswith="tier-at-risk:")
    assert [email.to for email in at_risk] == [[risky_admin.user.email]]
    assert "Platinum" in at_risk.get().subject
    assert "2018" in at_risk.get().body


# --- commands and export ------------------------------------------------------------------------------------


def test_export_tiers_prints_the_design_columns_with_the_multiplier_applied():
    partner = make_partner(legacy_dell="premier_plus", code="A1")
    book(partner, date(2017, 2, 10), "1000.10")
    book(partner, date(2017, 2, 10), "10.00", product_line="services")  # (1,010.10 × 1.25 = 1,262.625)
    DellOnlyAttestation.objects.create(partner=partner, starts_on=date(2017, 1, 1))
    certify(partner, 2)
    out = io.StringIO()
    call_command("export_tiers", "--as-of", "2017-03-01", stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [
        overview.EXPORT_HEADER,
        ["A1", "titanium", "authorized", "true", "1262.63", "12.50", "2", "1"],
    ]


def test_export_tiers_writes_a_file(tmp_path):
    make_partner(code="B2")
    target = tmp_path / "tiers.csv"
    call_command("export_tiers", "--as-of", "2017-03-01", "--output", str(target), stderr=io.StringIO())
    assert target.read_text().splitlines()[1] == "B2,authorized,authorized,false,0.00,0.00,0,0"


@pytest.mark.parametrize(
    "args",
    [
        ["recompute_tiers", "--as-of", "2017-13-01"],
        ["recompute_tiers", "--as-of", "yesterday"],
        ["export_tiers", "--as-of", "01/03/2017"],
        ["export_tiers", "--output", "/no/such/folder/tiers.csv"],
    ],
)
def test_bad_command_input_is_a_clear_error_and_changes_nothing(args):
    make_partner()
    with pytest.raises(CommandError):
        call_command(*args)
    assert not JobRun.objects.exists()
    assert TierHistory.objects.count() == 1


def test_recompute_tiers_command_runs_once_per_date_and_forces():
    gold_training(make_partner())
    out = io.StringIO()
    call_command("recompute_tiers", "--as-of", "2017-03-01", stdout=out)
    call_command("recompute_tiers", "--as-of", "2017-03-01", stdout=out)
    call_command("recompute_tiers", "--as-of", "2017-03-01", "--force", stdout=out)
    assert "1 changes" in out.getvalue() and "already evaluated" in out.getvalue()
    assert TierHistory.objects.filter(reason="upgrade").count() == 1


def test_the_nightly_tasks_take_an_optional_iso_date():
    from partners.tasks import tier_recompute_nightly, titanium_black_expire_nightly

    gold_training(make_partner())
    assert tier_recompute_nightly.delay("2017-03-01").get()["changes"] == 1
    assert tier_recompute_nightly.delay("2017-03-01").get() is None
    assert titanium_black_expire_nightly.delay("2017-03-01").get() == {"expired": 0}
    assert tier_recompute_nightly.name == "partners.tasks.tier_recompute_nightly"
    assert titanium_black_expire_nightly.name == "partners.tasks.titanium_black_expire_nightly"


# --- the worked scenario ------------------------------------------------------------------------------------


@pytest.mark.skipif(not (SCENARIO / "plan.json").is_file(), reason="no ../shared/examples/scenario-7")
def test_scenario_7_tiers_after_each_recompute(tmp_path):
    expected = list(csv.DictReader((SCENARIO / "expected_tiers.csv").open()))
    seen = []
    for step in json.loads((SCENARIO / "plan.json").read_text()):
        if step["do"].startswith("import_"):
            call_command(step["do"], str(SCENARIO / step["file"]), stdout=io.StringIO())
        elif step["do"] == "recompute_tiers":
            call_command("recompute_tiers", "--as-of", step["as_of"], stdout=io.StringIO())
            out = io.StringIO()
            call_command("export_tiers", "--as-of", step["as_of"], stdout=out)
            seen += [
                {"as_of": step["as_of"], "partner_code": row["partner_code"], "tier": row["tier"]}
                for row in csv.DictReader(io.StringIO(out.getvalue()))
            ]
    assert seen == expected
    assert Tier.objects.filter(code="titanium_black").exists()
    assert not TitaniumBlackAward.objects.exists()
