"""Conformance: replay each example program of ../shared/examples through the management commands of DESIGN §7
on an empty database, and compare the tiers and statements with the expected files, to the cent."""

import csv
import io
import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "examples"
SCENARIOS = sorted(path for path in EXAMPLES.glob("*") if (path / "plan.json").is_file()) if EXAMPLES.is_dir() else []


def command_output(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def replay(scenario: Path):
    """Run the plan; return (tiers seen after each recompute, statement rows of every closed quarter)."""
    tiers, quarters = [], []
    for step in json.loads((scenario / "plan.json").read_text()):
        action = step["do"]
        if action.startswith("import_"):
            call_command(action, str(scenario / step["file"]), verbosity=0)
        elif action == "recompute_tiers":
            call_command("recompute_tiers", "--as-of", step["as_of"], verbosity=0)
            for row in csv_rows(command_output("export_tiers", "--as-of", step["as_of"])):
                tiers.append({"as_of": step["as_of"], "partner_code": row["partner_code"], "tier": row["tier"]})
        elif action == "close_quarter":
            call_command("close_quarter", step["quarter"], "--as-of", step["as_of"], verbosity=0)
            quarters.append(step["quarter"])
        else:
            raise AssertionError(f"unknown step {action}")
    statements = []
    for quarter in quarters:
        statements += csv_rows(command_output("export_statement", "--quarter", quarter))
    return tiers, statements


@pytest.mark.skipif(not SCENARIOS and not os.environ.get("PORTAL_REQUIRE_SERVICES"), reason="no ../shared/examples")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[path.name for path in SCENARIOS])
# The nightly jobs in one chunk, and in chunks of three partners (as workers run them): the same result.
@pytest.mark.parametrize("chunk_partners", [10_000, 3], ids=["one-chunk", "chunks-of-3"])
@pytest.mark.django_db
def test_scenario_replays_to_the_expected_tiers_and_statements(scenario, chunk_partners, settings):
    settings.TIERS_CHUNK_PARTNERS = settings.REBATES_CLOSE_CHUNK_PARTNERS = chunk_partners
    tiers, statements = replay(scenario)

    expected_tiers = csv_rows((scenario / "expected_tiers.csv").read_text(encoding="utf-8-sig"))
    wrong_tiers = [(e, t) for e, t in zip(expected_tiers, tiers, strict=False) if e != t]
    assert len(tiers) == len(expected_tiers)
    assert wrong_tiers == [], f"{len(wrong_tiers)} tiers differ, first: {wrong_tiers[:5]}"

    expected = csv_rows((scenario / "expected_statements.csv").read_text(encoding="utf-8-sig"))
    key = lambda row: tuple(row.values())  # noqa: E731
    missing = sorted(set(map(key, expected)) - set(map(key, statements)))
    unexpected = sorted(set(map(key, statements)) - set(map(key, expected)))
    assert (missing, unexpected) == ([], []), f"missing {missing[:5]} unexpected {unexpected[:5]}"
    assert statements == expected  # same rows, same order, to the cent
