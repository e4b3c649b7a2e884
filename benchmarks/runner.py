"""Run one measured step in a process of its own: ``python -m benchmarks.runner '<json spec>'``.

The harness starts this with the benchmark database in ``DATABASE_URL``, so every job runs exactly as in
production (settings, commands, services), its peak memory is its own (``wait4``), and a job that runs too
long can be stopped. The last line printed is ``BENCH-RESULT <json>`` with the seconds spent in the step
itself (Django's start-up excluded).
"""

import io
import json
import os
import sys
import time

RESULT_PREFIX = "BENCH-RESULT "


def _command(spec: dict) -> dict:
    from django.core.management import call_command

    out = io.StringIO()
    started = time.perf_counter()
    call_command(*spec["argv"], stdout=out, stderr=out)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "output": out.getvalue().strip()[-2000:]}


def _dispatched(spec: dict) -> dict:
    """A nightly job spread over the running workers: queue its chunks, then wait until its run is finished."""
    from datetime import date

    from portal.models import JobRun

    as_of = date.fromisoformat(spec["as_of"])
    started = time.perf_counter()
    if spec["job"] == "close":
        from portal.fiscal import Quarter
        from rebates import services

        services.quarter_close(quarter=Quarter.parse(spec["quarter"]), as_of=as_of, dispatch=True)
        name, period = services.CLOSE_JOB, spec["quarter"]
    else:
        from partners.tiers import engine

        engine.tier_recompute_all(as_of=as_of, dispatch=True, force=True)
        name, period = engine.RECOMPUTE_JOB, as_of.isoformat()
    run = JobRun.objects.filter(name=name, period=period, finished_at__isnull=False)
    while not run.exists():
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "chunks": JobRun.objects.filter(parent__name=name, parent__period=period).count()}


def _accrual(spec: dict) -> dict:
    """The dashboard's accrual of one partner, as the dashboard computes it (median of ``repeat`` runs)."""
    from partners.models import Partner
    from portal.fiscal import parse_iso_date
    from rebates.selectors import rebate_accrual

    partner = Partner.objects.get(code=spec["partner"])
    as_of = parse_iso_date(spec["as_of"])
    times = []
    accrual = None
    for _index in range(spec.get("repeat", 3)):
        started = time.perf_counter()
        accrual = rebate_accrual(partner=partner, as_of=as_of)
        times.append(time.perf_counter() - started)
    times.sort()
    return {"seconds": times[len(times) // 2], "runs": times, "lines": accrual.lines, "total": str(accrual.total)}


def _statements(spec: dict) -> dict:
    """Deliver a sample of the quarter's statements one by one as the delivery chunks do (PDFs rendered and
    stored, then the emails queued with them attached), and extrapolate to every statement by a least-squares
    fit of seconds on lines. The sample's stored PDFs and emails of an earlier run are removed first, so that a
    reused program is timed rendering too."""
    from portal.models import OutboxEmail
    from rebates.models import Statement, StatementDocument
    from rebates.services import statements_deliver

    statements = Statement.objects.filter(quarter=spec["quarter"])
    sizes = list(statements.order_by("pk").values_list("pk", "line_count"))
    sample_ids = set(spec["sample_ids"])
    StatementDocument.objects.filter(statement_id__in=sample_ids).delete()
    for statement_id in sample_ids:
        OutboxEmail.objects.filter(key__startswith=f"statement:{statement_id}:user:").delete()
    timed = []
    for statement in statements.filter(pk__in=sample_ids).order_by("pk"):
        started = time.perf_counter()
        queued = statements_deliver(statement_ids=[statement.pk])
        timed.append((statement.line_count, time.perf_counter() - started, queued))
    seconds = sum(t for _lines, t, _queued in timed)
    count = len(timed)
    mean_x = sum(lines for lines, _t, _q in timed) / max(count, 1)
    mean_y = seconds / max(count, 1)
    spread = sum((lines - mean_x) ** 2 for lines, _t, _q in timed)
    slope = sum((lines - mean_x) * (t - mean_y) for lines, t, _q in timed) / spread if spread else 0.0
    intercept = mean_y - slope * mean_x
    predicted = sum(max(intercept + slope * lines, 0.0) for _pk, lines in sizes)
    return {
        "seconds": seconds,
        "sample": [{"lines": lines, "seconds": round(t, 4), "emails": queued} for lines, t, queued in timed],
        "statements": len(sizes),
        "lines": sum(lines for _pk, lines in sizes),
        "largest_statement_lines": max((lines for _pk, lines in sizes), default=0),
        "extrapolated_all_seconds": predicted,
        "seconds_per_line": slope,
        "seconds_per_statement": intercept,
    }


STAFF_TOTP_SECRET = "BENCHSTAFFTOTPKEYPARTNERPORTAL23"


def _sessions(spec: dict) -> dict:
    """Signed-in sessions (session cookies) for the large partner's admin and the staff user; the admin requires
    TOTP of staff, so the staff user is enrolled first (once: the copy keeps it)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP
    from django.contrib.auth import get_user_model
    from django.test import Client

    cookies = {}
    for name, email in spec["users"].items():
        user = get_user_model().objects.get(email=email)
        if user.is_staff and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            TOTP.activate(user, STAFF_TOTP_SECRET)
        client = Client()
        client.force_login(user)
        cookies[name] = client.cookies["sessionid"].value
    return {"seconds": 0.0, "cookies": cookies}


STEPS = {
    "dispatched": _dispatched,
    "command": _command,
    "accrual": _accrual,
    "statements": _statements,
    "sessions": _sessions,
}


def peak_rss_mb() -> float | None:
    """This process's own high-water mark (``VmHWM``): ``getrusage`` would report at least the RSS of the parent
    that forked it, which Linux carries over ``exec``."""
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def main() -> None:
    spec = json.loads(sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    result = STEPS[spec["step"]](spec)
    result["peak_rss_mb"] = peak_rss_mb()
    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
