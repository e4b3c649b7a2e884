"""``make bench`` keeps working: a small program through every job, page and the concurrent load (no timings
asserted: the figures depend on the machine), and the harness never runs outside PostgreSQL or in the
developer's own database."""

import json
import math
import os
import subprocess
import sys

from django.conf import settings

from benchmarks import harness
from tests.conftest import ROOT


def _bench_url() -> str:
    db = settings.DATABASES["default"]
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER'] or ''}:{db['PASSWORD'] or ''}@{host}:{port}/{db['NAME']}_bench_test"


def test_bench_refuses_anything_but_postgresql(capsys):
    assert harness.main(["--database-url", "sqlite:///var/bench.sqlite3"]) == 2
    assert "PostgreSQL only" in capsys.readouterr().err


def test_bench_refuses_the_developers_database(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgres://portal:portal@127.0.0.1:5432/portal")
    assert harness.main(["--database-url", "postgres://portal:portal@127.0.0.1:5432/portal"]) == 2
    assert "DATABASE_URL's database" in capsys.readouterr().err


def test_small_bench_times_every_row_against_a_baseline(require_postgresql, tmp_path):
    """Given a program of 30 partners and 2,500 lines, when ``python -m benchmarks`` runs, then the JSON has every
    row of the table, each ran, and each has a number of seconds, a baseline and a ratio."""
    url = _bench_url()
    output = tmp_path / "latest.json"
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "benchmarks", "--database-url", url, "--partners", "30", "--customers", "300",
             "--lines", "2500", "--import-lines", "200", "--statement-sample", "2", "--clients", "2",
             "--duration", "1", "--gunicorn-workers", "2", "--page-repeat", "1", "--job-timeout", "300",
             "--output", str(output)],
            cwd=ROOT, env={**os.environ}, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    finally:
        harness.drop_database(url)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    report = json.loads(output.read_text())
    rows = {row["job"]: row for row in report["rows"]}
    assert list(rows) == harness.ROW_NAMES
    for name, row in rows.items():
        assert row["status"] == "ok", (name, row.get("error"))
        for field in ("seconds", "baseline_seconds", "ratio"):
            assert isinstance(row[field], float) and math.isfinite(row[field]) and row[field] > 0, (name, field, row)
    assert report["program"]["rows"]["deals_orderline"] == 2500
    assert rows["import_orders"]["output"].startswith("import-200.csv: 200 rows — 200 created")
    # The close's baseline does the same work: the same rebate lines within the few that credits change.
    close = rows["close_quarter"]
    assert close["rebate_lines"] > 0
    assert abs(close["baseline_rebate_lines"] - close["rebate_lines"]) <= 0.05 * close["rebate_lines"]
    assert rows["close_quarter_attested"]["rebate_lines"] > close["rebate_lines"]  # the uplift lines
    assert rows["pages_concurrent"]["statuses"] == {"200": rows["pages_concurrent"]["requests"]}
    assert set(report["machine"]) >= {"nproc", "memory", "postgresql"}
