"""The demo's tier history: every nightly evaluation since the partners joined, replayed in order, and a Titanium
Black award to DEMO-US1 on the way (``seed_demo``; idempotent: each evaluation is claimed once per day)."""

from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from partners.models import Partner, TitaniumBlackAward
from partners.tiers.awards import titanium_black_award
from partners.tiers.engine import tier_recompute_all

from .history import evaluation_days
from .partners import STAFF_EMAIL

# Awarded this many days ago (valid one year): long enough to show on the tier history, still running today.
TITANIUM_BLACK_DAYS_AGO = 120


def seed_demo_tiers(*, today: date | None = None) -> dict:
    """Replay the evaluations of ``history.evaluation_days`` (month starts, then today) in order; award Titanium
    Black to DEMO-US1 on its day. A day evaluated before is skipped (its claim is finished)."""
    today = today or timezone.localdate()
    award_day = today - timedelta(days=TITANIUM_BLACK_DAYS_AGO)
    evaluated = 0
    for day in evaluation_days(today):
        if day > award_day:
            _award_titanium_black(award_day)
        evaluated += tier_recompute_all(as_of=day) is not None
    return {"evaluations": evaluated}


def _award_titanium_black(day: date) -> None:
    partner = Partner.objects.get(code="DEMO-US1")
    if TitaniumBlackAward.objects.filter(partner=partner).exists():
        return
    titanium_black_award(
        partner=partner,
        sponsor="Channel VP North America",
        reason="Top storage and HCI partner of the region, three years running.",
        awarded_on=day,
        awarded_by=get_user_model().objects.get(email=STAFF_EMAIL),
    )
