"""The pure tier rules of DESIGN §3: thresholds, paths, 1.25X, and the upgrade / at-risk / review decisions."""

from datetime import date
from decimal import Decimal

import pytest

from partners import calculations as calc
from partners.calculations import RequirementPath, TierFigures

MULTIPLIER = Decimal("1.250")
RANKS = {"authorized": 1, "gold": 2, "platinum": 3, "titanium": 4}  # the seed Tier table

# DESIGN §3, EMEA-1.
EMEA = [
    RequirementPath("gold", "revenue", Decimal("5000000"), Decimal("400000"), 2, 1),
    RequirementPath("gold", "training", Decimal("750000"), Decimal("60000"), 4, 1),
    RequirementPath("platinum", "revenue", Decimal("20000000"), Decimal("1600000"), 4, 2),
    RequirementPath("platinum", "training", Decimal("5000000"), Decimal("600000"), 8, 2),
    RequirementPath("titanium", "revenue", Decimal("40000000"), Decimal("3200000"), 8, 3),
    RequirementPath("titanium", "training", Decimal("20000000"), Decimal("2400000"), 16, 3),
]
GOLD_TRAINING = TierFigures(Decimal("750000.00"), Decimal("60000.00"), 4, 1)


def figures(revenue="0", services="0", people=0, competencies=0) -> TierFigures:
    return TierFigures(Decimal(revenue), Decimal(services), people, competencies)


def test_a_path_exactly_at_every_threshold_is_met():
    assert calc.compute_tier(GOLD_TRAINING, EMEA, ranks=RANKS).tier == "gold"


@pytest.mark.parametrize(
    "short",
    [
        figures("749999.99", "60000", 4, 1),
        figures("750000", "59999.99", 4, 1),
        figures("750000", "60000", 3, 1),
        figures("750000", "60000", 4, 0),
    ],
)
def test_one_cent_or_one_unit_under_any_threshold_misses_the_path(short):
    assert calc.compute_tier(short, EMEA, ranks=RANKS).tier == "authorized"


def test_the_gap_names_exactly_what_is_missing():
    gap = calc.path_gap(figures("749999.99", "70000", 2, 1), EMEA[1])
    assert not gap.met
    assert (gap.revenue_missing, gap.services_missing, gap.people_missing, gap.competencies_missing) == (
        Decimal("0.01"),
        Decimal("0"),
        2,
        0,
    )
    assert gap.shortfalls() == ["0.01 USD qualifying revenue", "2 certified people"]


@pytest.mark.parametrize(
    "partner_figures, tier",
    [
        (figures("5000000", "400000", 2, 1), "gold"),  # Gold revenue path alone
        (figures("750000", "60000", 4, 1), "gold"),  # Gold training path alone
        (figures("20000000", "1600000", 4, 2), "platinum"),  # Platinum revenue path alone
        (figures("5000000", "600000", 8, 2), "platinum"),  # Platinum training path alone
        (figures("40000000", "3200000", 8, 3), "titanium"),  # Titanium revenue path alone
        (figures("20000000", "2400000", 16, 3), "titanium"),  # Titanium training path alone
        (figures("100000000", "0", 50, 6), "authorized"),  # no services revenue: no path
    ],
)
def test_each_path_alone_is_enough(partner_figures, tier):
    computation = calc.compute_tier(partner_figures, EMEA, ranks=RANKS)
    assert computation.tier == tier
    if tier != "authorized":
        assert sum(gap.met for gap in computation.gaps_for(tier)) == 1


def test_the_multiplier_applies_to_both_revenue_figures_in_decimal():
    raw = figures("600000.01", "48000.00", 4, 1)
    multiplied = calc.figures_for_evaluation(raw, attested=True, multiplier=MULTIPLIER)
    assert multiplied == figures("750000.01", "60000.00", 4, 1)
    assert isinstance(multiplied.qualifying_revenue, Decimal)
    assert calc.figures_for_evaluation(raw, attested=False, multiplier=MULTIPLIER) == raw


def test_one_point_two_five_x_turns_a_miss_into_a_pass():
    raw = figures("600000", "48000", 4, 1)
    assert calc.compute_tier(raw, EMEA, ranks=RANKS).tier == "authorized"
    attested = calc.figures_for_evaluation(raw, attested=True, multiplier=MULTIPLIER)
    assert calc.compute_tier(attested, EMEA, ranks=RANKS).tier == "gold"


def test_multiplied_amounts_are_rounded_half_up_to_the_cent():
    multiplied = figures("0.02", "0.06").with_multiplier(MULTIPLIER)
    assert (multiplied.qualifying_revenue, multiplied.services_revenue) == (Decimal("0.03"), Decimal("0.08"))


def test_status_match_takes_the_higher_legacy_tier():
    assert calc.status_match_tier("premier", "platinum", ranks=RANKS) == "titanium"
    assert calc.status_match_tier("registered", "silver", ranks=RANKS) == "gold"
    assert calc.status_match_tier("", "", ranks=RANKS) == "authorized"


PROGRAM_START = date(2017, 2, 1)


def test_the_program_first_year_has_no_annual_review():
    assert not calc.is_annual_review(on=date(2017, 2, 1), joined_on=PROGRAM_START, previous_evaluation_this_year=False)


def test_the_first_evaluation_of_a_later_year_is_the_annual_review_and_only_that_one():
    assert calc.is_annual_review(on=date(2018, 2, 1), joined_on=PROGRAM_START, previous_evaluation_this_year=False)
    assert calc.is_annual_review(on=date(2018, 2, 5), joined_on=PROGRAM_START, previous_evaluation_this_year=False)
    assert not calc.is_annual_review(on=date(2018, 2, 5), joined_on=PROGRAM_START, previous_evaluation_this_year=True)


def test_a_partner_that_joins_later_is_first_reviewed_at_least_12_months_after_it_joined():
    # Joined on a program-year start: reviewed exactly a year later.
    assert calc.first_review_year_start(date(2019, 2, 1)) == date(2020, 2, 1)
    # Joined mid-year (2017-06-01): the review of 2018-02-01 is only 8 months later, so the first is 2019-02-01.
    joined = date(2017, 6, 1)
    assert calc.first_review_year_start(joined) == date(2019, 2, 1)
    for on in (date(2018, 2, 1), date(2018, 6, 1), date(2019, 1, 31)):
        assert not calc.is_annual_review(on=on, joined_on=joined, previous_evaluation_this_year=False)
    assert calc.is_annual_review(on=date(2019, 2, 1), joined_on=joined, previous_evaluation_this_year=False)
    assert not calc.is_annual_review(on=date(2019, 2, 2), joined_on=joined, previous_evaluation_this_year=True)
    # The review an at-risk partner is told about is its first eligible one, then each program year.
    assert calc.annual_review_date(date(2017, 8, 1), joined) == date(2019, 2, 1)
    assert calc.annual_review_date(date(2019, 8, 1), joined) == date(2020, 2, 1)
    assert calc.annual_review_date(date(2017, 8, 1), PROGRAM_START) == date(2018, 2, 1)


def test_a_late_joiner_below_its_status_matched_tier_is_at_risk_until_its_first_review():
    joined = date(2017, 6, 1)
    computed = calc.compute_tier(GOLD_TRAINING, EMEA, ranks=RANKS)
    on = date(2018, 2, 1)  # the program's review day, but not this partner's
    decision = calc.decide_tier(
        current="platinum",
        computed=computed,
        on=on,
        annual_review=calc.is_annual_review(on=on, joined_on=joined, previous_evaluation_this_year=False),
        review_on=calc.annual_review_date(on, joined),
    )
    assert (decision.tier, decision.reason, decision.at_risk) == ("platinum", None, True)
    assert "annual review on 2019-02-01" in decision.at_risk_reason


def decide(current, computed_figures, on, review):
    return calc.decide_tier(
        current=current,
        computed=calc.compute_tier(computed_figures, EMEA, ranks=RANKS),
        on=on,
        annual_review=review,
        review_on=calc.annual_review_date(on, PROGRAM_START),
    )


def test_an_upgrade_takes_effect_at_once_even_mid_year():
    decision = decide("authorized", GOLD_TRAINING, date(2017, 8, 1), False)
    assert (decision.tier, decision.reason, decision.at_risk) == ("gold", "upgrade", False)


def test_a_lower_computed_tier_mid_year_flags_at_risk_with_the_missing_figures():
    decision = decide("platinum", GOLD_TRAINING, date(2017, 8, 1), False)
    assert (decision.tier, decision.reason, decision.at_risk) == ("platinum", None, True)
    assert "annual review on 2018-02-01" in decision.at_risk_reason
    assert "training path: missing 4,250,000.00 USD qualifying revenue" in decision.at_risk_reason


def test_the_annual_review_applies_the_lower_computed_tier():
    decision = decide("platinum", GOLD_TRAINING, date(2018, 2, 1), True)
    assert (decision.tier, decision.reason, decision.at_risk) == ("gold", "annual_review", False)
    assert not decision.loses_titanium_black


def test_titanium_black_is_kept_while_titanium_is_met_and_lost_at_review_below_it():
    titanium = figures("40000000", "3200000", 8, 3)
    kept = decide("titanium_black", titanium, date(2018, 2, 1), True)
    assert (kept.tier, kept.reason) == ("titanium_black", None)
    at_risk = decide("titanium_black", GOLD_TRAINING, date(2017, 9, 1), False)
    assert (at_risk.tier, at_risk.at_risk) == ("titanium_black", True)
    lost = decide("titanium_black", GOLD_TRAINING, date(2018, 2, 1), True)
    assert (lost.tier, lost.reason, lost.loses_titanium_black) == ("gold", "annual_review", True)


def test_next_tier_stops_at_titanium():
    assert calc.next_tier("gold", ranks=RANKS) == "platinum"
    assert calc.next_tier("titanium", ranks=RANKS) is None
    assert calc.next_tier("titanium_black", ranks=RANKS) is None


def test_the_order_of_tiers_is_the_ranks_given_not_a_constant():
    """Ranks are an input: with gold ranked above platinum, figures meeting both compute gold, gold is the tier
    after platinum, and the higher status match is gold; spaced ranks (10, 20, …) order the same as 1, 2, …"""
    swapped = {"authorized": 1, "gold": 3, "platinum": 2, "titanium": 4}
    both = figures("20000000", "1600000", 8, 2)
    assert calc.compute_tier(both, EMEA, ranks=RANKS).tier == "platinum"
    assert calc.compute_tier(both, EMEA, ranks=swapped).tier == "gold"
    assert calc.next_tier("platinum", ranks=swapped) == "gold"
    assert calc.status_match_tier("preferred", "gold", ranks=swapped) == "gold"
    spaced = {code: rank * 10 for code, rank in RANKS.items()}
    assert [calc.next_tier(code, ranks=spaced) for code in RANKS] == ["gold", "platinum", "titanium", None]
    assert calc.compute_tier(both, EMEA, ranks=spaced).tier == "platinum"


def test_the_tier_on_a_date_is_set_by_the_latest_change_on_or_before_it_and_the_later_row_wins_a_tie():
    changes = [(date(2017, 2, 1), 3), (date(2017, 6, 1), 4), (date(2017, 6, 1), 2), (date(2018, 2, 1), 1)]
    assert calc.tier_on(changes, date(2017, 1, 31), default=1) == 1  # before any change: the default
    assert calc.tier_on(changes, date(2017, 2, 1), default=1) == 3  # effective on its own date
    assert calc.tier_on(changes, date(2017, 5, 31), default=1) == 3
    assert calc.tier_on(changes, date(2017, 6, 1), default=1) == 2  # two changes that day: the later row
    assert calc.tier_on(changes, date(2019, 1, 1), default=1) == 1
    assert calc.tier_on([], date(2019, 1, 1), default=7) == 7
