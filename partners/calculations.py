"""Pure tier rules (DESIGN §3): no ORM here, figures in and decisions out."""

DELL_LEGACY_TO_TIER = {"premier_plus": "titanium", "premier": "platinum", "preferred": "gold"}
EMC_LEGACY_TO_TIER = {"platinum": "titanium", "gold": "platinum", "silver": "gold"}
TIER_RANK = {"authorized": 1, "gold": 2, "platinum": 3, "titanium": 4}


def status_match_tier(legacy_dell_tier: str, legacy_emc_tier: str) -> str:
    """Return the first tier a new partner gets from its legacy tiers: the higher of the two wins."""
    candidates = [
        DELL_LEGACY_TO_TIER.get(legacy_dell_tier or "", "authorized"),
        EMC_LEGACY_TO_TIER.get(legacy_emc_tier or "", "authorized"),
    ]
    return max(candidates, key=TIER_RANK.__getitem__)
