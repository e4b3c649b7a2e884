"""``make bench``: generate a program at scale on PostgreSQL and time every job against its bare-SQL baseline.

    python -m benchmarks [--database-url URL] [--partners N --customers N --lines N] [--reuse] [--only JOB,…]

The generated program lives in its own database (``--database-url``, else ``BENCH_DATABASE_URL``, else
``postgres://portal:portal@127.0.0.1:5432/portal_bench``), never the one in ``DATABASE_URL``. Each group of
jobs runs on a fresh file copy of it (``CREATE DATABASE … TEMPLATE``), so every run starts from the same state;
each job runs in a process of its own through its real management command or service, with a time limit, and
its baseline runs on the same copy just before it. One table is printed and the figures are written as JSON
(``var/bench/latest.json`` by default). See docs/performance.md.
"""

import argparse
import json
import os
import platform
import random
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from portal.fiscal import add_months

from . import baselines, importfile, load, program
from .runner import RESULT_PREFIX

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://portal:portal@127.0.0.1:5432/portal_bench"
LARGE_PARTNER = "BP00000"
STAFF_EMAIL = "staff@bench.example.com"

# The rows of the table, in order, with the targets: (job, target text, target kind, target value).
ROWS = [
    ("import_orders", "≥ 20,000 lines/s and ≤ 3× COPY", "ratio", 3.0),
    ("recompute_tiers", "≤ 1.5× the trailing-window SUM … GROUP BY", "ratio", 1.5),
    ("apply_channel_locks", "≤ 2× INSERT … SELECT of the same locks", "ratio", 2.0),
    ("route_direct_orders", "≤ 3× the decisions as one query, linear", "ratio", 3.0),
    ("close_quarter", "≤ 2× INSERT … SELECT of the rebate lines", "ratio", 2.0),
    ("close_quarter_attested", "linear in lines, ≤ 2× INSERT … SELECT", "ratio", 2.0),
    ("recompute_tiers_workers", "chunks on 2 workers, ≤ 1.5× the SUM … GROUP BY", "ratio", 1.5),
    ("close_quarter_workers", "chunks on 2 workers, ≤ 2× INSERT … SELECT", "ratio", 2.0),
    ("statement_pdfs_emails", "5,000 statements ≤ 15 min on two workers", "seconds", None),
    ("dashboard_accrual", "≤ 150 ms", "seconds", 0.150),
    ("export_statement_quarter", "≤ 2× COPY TO, streamed", "ratio", 2.0),
    ("page_dashboard", "≤ 150 ms", "seconds", 0.150),
    ("page_orders", "≤ 150 ms", "seconds", 0.150),
    ("page_order_detail", "≤ 150 ms", "seconds", 0.150),
    ("page_registrations", "≤ 150 ms", "seconds", 0.150),
    ("page_routed", "≤ 150 ms", "seconds", 0.150),
    ("page_my_tier", "≤ 150 ms", "seconds", 0.150),
    ("page_statements", "≤ 150 ms", "seconds", 0.150),
    ("page_statement_detail", "≤ 150 ms", "seconds", 0.150),
    ("page_admin_orders", "≤ 150 ms", "seconds", 0.150),
    ("page_admin_order_search", "≤ 150 ms", "seconds", 0.150),
    ("page_admin_order_lines", "≤ 150 ms", "seconds", 0.150),
    ("pages_concurrent", "p95 ≤ 150 ms and ≥ 40 requests/s", "seconds", 0.150),
]
ROW_NAMES = [name for name, *_rest in ROWS]
JOB_GROUPS = {
    "import": ["import_orders"],
    "nightly": ["recompute_tiers", "apply_channel_locks", "route_direct_orders"],
    "close": ["close_quarter", "export_statement_quarter", "statement_pdfs_emails", "dashboard_accrual"]
    + [name for name in ROW_NAMES if name.startswith("page")],
    "attested": ["close_quarter_attested"],
    "workers": ["recompute_tiers_workers", "close_quarter_workers"],
}
BENCH_WORKERS = 2


class Workers:
    """``count`` real Celery workers (solo pool, one task at a time each) on the benchmark copy, for a ``with``."""

    def __init__(self, env: dict, *, count: int, log_dir: Path):
        self.env, self.count, self.log_dir, self.processes = env, count, log_dir, []

    def __enter__(self) -> "Workers":
        for index in range(self.count):
            log = self.log_dir / f"bench-worker-{index}.log"
            with open(log, "wb") as file:
                self.processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "portal",
                            "worker",
                            "--pool=solo",
                            "--concurrency=1",
                            "--without-heartbeat",
                            "--without-gossip",
                            "--without-mingle",
                            "--loglevel=INFO",
                            "-n",
                            f"bench{index}@%h",
                        ],
                        cwd=ROOT,
                        env=self.env,
                        stdout=file,
                        stderr=subprocess.STDOUT,
                    )  # fmt: skip
                )
        deadline = time.monotonic() + 60
        for index, process in enumerate(self.processes):  # ready before the job is queued: its time is the job's
            while b"ready." not in (self.log_dir / f"bench-worker-{index}.log").read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()  # no worker left behind, to take the next run's tasks on a dropped database
                    raise BenchError(f"a celery worker did not start: see {self.log_dir}/bench-worker-{index}.log")
                time.sleep(0.2)
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


class BenchError(Exception):
    """A benchmark that cannot run (wrong database, service missing): the message says why."""


# --- databases ---------------------------------------------------------------------------------------------------


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def connect(url: str, **options):
    import psycopg

    return psycopg.connect(url, **options)


def _admin(url: str):
    return connect(with_database(url, "postgres"), autocommit=True)


def database_exists(url: str) -> bool:
    with _admin(url) as admin:
        return (
            admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database_name(url)]).fetchone() is not None
        )


def drop_database(url: str) -> None:
    from psycopg import sql

    with _admin(url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database_name(url))))


def create_database(url: str, *, template: str | None = None) -> None:
    from psycopg import sql

    with _admin(url) as admin:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database_name(url)))
        if template:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(database_name(url)), sql.Identifier(database_name(template))
            )
        admin.execute(statement)


# --- processes ---------------------------------------------------------------------------------------------------


def job_environment(url: str, var_dir: Path, *, timeout: float) -> dict:
    """The environment of a job process: the benchmark copy, tasks published to an in-memory broker (nothing
    consumes them, so a close does not send its emails inside its own timing), no DEBUG query log, and a
    server-side statement timeout so that a job stopped by the harness stops in PostgreSQL too."""
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "EMAIL_HOST"}}
    env.update(
        DATABASE_URL=url,
        CELERY_BROKER_URL="memory://",
        DJANGO_DEBUG="0",
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_VAR_DIR=str(var_dir),
        PGOPTIONS=f"-c statement_timeout={int(timeout * 1000)}",
    )
    return env


def run_step(spec: dict, env: dict, *, timeout: float) -> dict:
    """Run ``benchmarks.runner`` with ``spec``; return its result with ``peak_rss_mb`` and ``status``."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.runner", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    status = "ok"
    while True:
        pid, wait_status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - started > timeout:
            process.kill()
            pid, wait_status, usage = os.wait4(process.pid, 0)
            status = "timeout"
            break
        time.sleep(0.2)
    process.returncode = os.waitstatus_to_exitcode(wait_status)
    reader.join(timeout=10)
    text = b"".join(output).decode(errors="replace")
    result: dict = {}
    for line in text.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
    if status == "ok" and (process.returncode != 0 or not result):
        status = "error"
    result.update(status=status, wall_seconds=time.perf_counter() - started)
    if result.get("peak_rss_mb") is None:  # stopped or failed: wait4's figure (at least the harness's own RSS)
        result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    if status != "ok":
        result["seconds"] = None
        result["error"] = text[-3000:]
    return result


def manage(argv: list[str], env: dict) -> None:
    subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=env, check=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """gunicorn serving the portal from the benchmark copy, as in production (sync workers)."""

    def __init__(self, env: dict, *, workers: int):
        self.port = free_port()
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "portal.wsgi:application", "--workers", str(workers),
             "--bind", f"127.0.0.1:{self.port}", "--timeout", "300", "--log-level", "warning"],
            cwd=ROOT, env={**env, "PGOPTIONS": ""}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def __enter__(self) -> "Gunicorn":
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError("gunicorn exited at start-up")
            try:
                status, _seconds, _size = load.get("127.0.0.1", self.port, "/accounts/login/")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        raise BenchError("gunicorn did not answer within 90 s")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the run -----------------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, options):
        self.options = options
        self.url = options.database_url
        self.run_url = with_database(self.url, database_name(self.url) + "_run")
        # Import files, job logs, gunicorn's and the workers' logs: beside the report unless told otherwise.
        self.var_dir = Path(options.work_dir or Path(options.output).resolve().parent).resolve()
        self.rows: dict[str, dict] = {}
        self.timeout = options.job_timeout
        self.sizes = program.Sizes(
            partners=options.partners,
            customers=options.customers,
            lines=options.lines,
            seed=options.seed,
            attested_share=options.attested_share,
        )
        self.as_of = options.as_of or datetime.now(tz=UTC).date()
        self.generated: dict = {}

    def log(self, message: str) -> None:
        print(message, flush=True)

    # template ------------------------------------------------------------------------------------------------

    def prepare(self) -> None:
        env = job_environment(self.url, self.var_dir / "run", timeout=24 * 3600)
        if self.options.reuse and database_exists(self.url):
            meta = self._meta()
            if meta and meta["sizes"] == self.sizes.key(date.fromisoformat(meta["sizes"]["as_of"])):
                if self.options.as_of and self.options.as_of.isoformat() != meta["sizes"]["as_of"]:
                    raise BenchError(f"--reuse: the program was generated as of {meta['sizes']['as_of']}")
                self.as_of = date.fromisoformat(meta["sizes"]["as_of"])
                self.generated = meta
                self.log(f"Reusing the program in {database_name(self.url)} (as of {self.as_of}); migrating it.")
                manage(["migrate", "--noinput", "-v", "0"], env)
                return
            self.log("--reuse: the stored program has other sizes or another generator version: regenerating.")
        drop_database(self.url)
        create_database(self.url)
        self.log(f"Generating {self.sizes} as of {self.as_of} into {database_name(self.url)}")
        started = time.perf_counter()
        manage(["migrate", "--noinput", "-v", "0"], env)
        with connect(self.url) as connection:
            counts = program.generate(connection, sizes=self.sizes, as_of=self.as_of, log=self.log)
            seconds = time.perf_counter() - started
            self.generated = {"sizes": self.sizes.key(self.as_of), "rows": counts, "seconds": round(seconds, 1)}
            with connection.cursor() as cursor:
                cursor.execute("CREATE TABLE bench_meta (id int PRIMARY KEY, value jsonb NOT NULL)")
                cursor.execute("INSERT INTO bench_meta VALUES (1, %s)", [json.dumps(self.generated)])
            connection.commit()
        self.log(f"Generated in {seconds:.0f} s: {counts['deals_orderline']:,} order lines.")

    def _meta(self) -> dict | None:
        with connect(self.url) as connection:
            exists = connection.execute("SELECT to_regclass('bench_meta')").fetchone()[0]
            if not exists:
                return None
            return connection.execute("SELECT value FROM bench_meta WHERE id = 1").fetchone()[0]

    # groups --------------------------------------------------------------------------------------------------

    def run(self) -> dict:
        started = datetime.now(tz=UTC)
        load_before = os.getloadavg()
        self.prepare()
        wanted = set(self.options.only.split(",")) if self.options.only else set(ROW_NAMES)
        for group, names in JOB_GROUPS.items():
            if not wanted & set(names):
                continue
            self.log(f"— {group}: fresh copy of the program")
            drop_database(self.run_url)
            create_database(self.run_url, template=self.url)
            try:
                with connect(self.run_url) as connection:
                    getattr(self, f"group_{group}")(connection, wanted)
            finally:
                drop_database(self.run_url)
        report = {
            "started_at": started.isoformat(),
            "finished_at": datetime.now(tz=UTC).isoformat(),
            "machine": self.machine(load_before),
            "program": self.generated,
            "as_of": self.as_of.isoformat(),
            "rows": [self.rows[name] for name in ROW_NAMES if name in self.rows],
        }
        return report

    def env(self) -> dict:
        return job_environment(self.run_url, self.var_dir / "run", timeout=self.timeout)

    def params(self) -> dict:
        calendar = program.Calendar(self.as_of)
        quarter = calendar.close_quarter
        return {
            "as_of": self.as_of,
            "program_start": calendar.program_start,
            "window_start": add_months(self.as_of, -12),
            "quarter": str(quarter),
            "quarter_start": quarter.start,
            "quarter_end": quarter.end,
            "open_quarter_start": calendar.open_quarter.start,
            "lock_months": 36,
            "lookback_months": 36,
            "delivery_certification": 9,
        }

    def command(self, *argv: str) -> dict:
        return run_step({"step": "command", "argv": list(argv)}, self.env(), timeout=self.timeout)

    def record(self, name: str, job: dict, baseline_seconds: float | None, baseline: str, **details) -> None:
        _target_text, kind, target = next((text, kind, value) for row, text, kind, value in ROWS if row == name)
        seconds = job.get("seconds")
        ratio = seconds / baseline_seconds if seconds is not None and baseline_seconds else None
        row = {
            "job": name,
            "status": job.get("status", "ok"),
            "seconds": seconds,
            "baseline": baseline,
            "baseline_seconds": baseline_seconds,
            "ratio": ratio,
            "target": _target_text,
            "peak_rss_mb": job.get("peak_rss_mb"),
            **details,
        }
        if kind == "ratio":
            row["met"] = ratio is not None and ratio <= target
        elif target is not None:
            row["met"] = seconds is not None and seconds <= target
        if "error" in job:
            row["error"] = job["error"]
        if "output" in job:
            row["output"] = job["output"]
        self.rows[name] = row
        shown = f"{seconds:.2f} s" if seconds is not None else row["status"]
        extra = f" / baseline {baseline_seconds:.2f} s = {ratio:.1f}×" if ratio is not None else ""
        self.log(f"  {name}: {shown}{extra}")

    def timed(self, connection, statements: list[tuple[str, dict]]) -> tuple[float, list[int]]:
        """The best of ``--baseline-runs`` rolled-back runs (the first one often pays for a cold cache)."""
        runs = [baselines.timed(connection, statements, rollback=True) for _index in range(self.options.baseline_runs)]
        return min(seconds for seconds, _rows in runs), runs[0][1]

    def copy_out(self, connection, sql: str, params: dict) -> tuple[float, int]:
        runs = [baselines.copy_out(connection, sql, params) for _index in range(self.options.baseline_runs)]
        return min(seconds for seconds, _size in runs), runs[0][1]

    def vacuum(self, connection, *tables: str) -> None:
        connection.commit()
        connection.autocommit = True
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {table}")
        connection.autocommit = False

    def group_import(self, connection, wanted) -> None:
        lines = self.options.import_lines
        files = importfile.write(connection, lines=lines, seed=self.sizes.seed, as_of=self.as_of, folder=self.var_dir)
        runs = []
        for _index in range(self.options.baseline_runs):
            started = time.perf_counter()
            importfile.copy_baseline(connection, files["paths"])
            runs.append(time.perf_counter() - started)
            connection.rollback()
        baseline = min(runs)
        self.vacuum(connection, "deals_customer", "deals_order", "deals_orderline")
        job = self.command("import_orders", files["paths"]["csv"])
        per_second = lines / job["seconds"] if job.get("seconds") else None
        self.record(
            "import_orders", job, baseline, f"COPY of the same {lines:,} lines (resolved) into the real tables",
            lines=lines, lines_per_second=per_second, new_customers=files["new_customers"],
        )  # fmt: skip
        if per_second is not None and per_second < 20_000:
            self.rows["import_orders"]["met"] = False

    def group_nightly(self, connection, wanted) -> None:
        params = self.params()
        as_of = self.as_of.isoformat()
        if "recompute_tiers" in wanted:
            baseline, (partners,) = self.timed(connection, [(baselines.TIERS, params)])
            job = self.command("recompute_tiers", "--as-of", as_of, "--force")
            self.record("recompute_tiers", job, baseline, "trailing-window SUM … GROUP BY partner", partners=partners)
        if "apply_channel_locks" in wanted:
            baseline, (events,) = self.timed(connection, [(baselines.LOCKS, params)])
            self.vacuum(connection, "deals_channellock", "deals_channellockevent")
            job = self.command("apply_channel_locks", "--as-of", as_of, "--force")
            self.record("apply_channel_locks", job, baseline, "INSERT … SELECT of the locks and their events",
                        locks=events)  # fmt: skip
        if "route_direct_orders" in wanted:
            baseline, _rows = self.timed(connection, [(baselines.ROUTING, params)])
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM deals_order WHERE channel = 'direct' AND partner_id IS NULL "
                    "AND booked_on >= %(program_start)s AND booked_on <= %(as_of)s",
                    params,
                )
                orders = cursor.fetchone()[0]
            connection.rollback()
            job = self.command("route_direct_orders", "--as-of", as_of, "--force")
            self.record("route_direct_orders", job, baseline, "the routing decisions as one query",
                        direct_orders=orders)  # fmt: skip

    def _rebate_lines(self, connection) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM rebates_rebateline")
            count = cursor.fetchone()[0]
        connection.rollback()
        return count

    def _close_baseline(self, connection) -> tuple[float, list[int]]:
        """The close's bare SQL (statements, their lines, their totals), then the tables vacuumed for the job."""
        params = self.params()
        statements = [
            baselines.STATEMENTS,
            baselines.ANALYZE_STATEMENTS,
            baselines.REBATE_LINES,
            baselines.STATEMENT_TOTALS,
        ]
        baseline, counts = self.timed(connection, [(sql, params) for sql in statements])
        self.vacuum(connection, "rebates_statement", "rebates_rebateline")
        return baseline, counts

    def _close(self, connection, name: str) -> None:
        params = self.params()
        baseline, counts = self._close_baseline(connection)
        job = self.command("close_quarter", params["quarter"], "--as-of", self.as_of.isoformat())
        rebate_lines = self._rebate_lines(connection)
        per_second = rebate_lines / job["seconds"] if job.get("seconds") else None
        self.record(name, job, baseline, "INSERT … SELECT of statements and every component of the quarter's lines",
                    rebate_lines=rebate_lines, baseline_rebate_lines=counts[2],
                    rebate_lines_per_second=per_second)  # fmt: skip

    def group_close(self, connection, wanted) -> None:
        params = self.params()
        with connection.cursor() as cursor:  # the plain close: nobody attested
            cursor.execute("DELETE FROM partners_dellonlyattestation")
        connection.commit()
        self._close(connection, "close_quarter")
        if "export_statement_quarter" in wanted:
            baseline, size = self.copy_out(connection, baselines.EXPORT, params)
            output = self.var_dir / "run" / "export.csv"
            output.parent.mkdir(parents=True, exist_ok=True)
            job = self.command("export_statement", "--quarter", params["quarter"], "--output", str(output))
            rows = sum(1 for _line in open(output, encoding="utf-8")) - 1 if output.exists() else None
            output.unlink(missing_ok=True)
            self.record("export_statement_quarter", job, baseline, "COPY (SELECT …) TO STDOUT of the same rows",
                        rows=rows, baseline_bytes=size)  # fmt: skip
        if "statement_pdfs_emails" in wanted:
            self._statements(connection, params)
        if "dashboard_accrual" in wanted:
            partner_id = self._partner_id(connection)
            accrual = {**params, "partner_id": partner_id, "quarter_start": params["open_quarter_start"]}
            baseline, _rows = self.timed(connection, [(baselines.ACCRUAL, accrual)])
            job = run_step(
                {"step": "accrual", "partner": LARGE_PARTNER, "as_of": self.as_of.isoformat(), "repeat": 3},
                self.env(),
                timeout=self.timeout,
            )
            self.record("dashboard_accrual", job, baseline,
                        "SUM of the base component over the partner's open-quarter lines",
                        partner=LARGE_PARTNER, open_lines=job.get("lines"))  # fmt: skip
        if wanted & {name for name in ROW_NAMES if name.startswith("page")}:
            self._pages(connection, wanted)

    def group_workers(self, connection, wanted) -> None:
        """The nightly jobs as production runs them: chunks queued on Redis, run by two real Celery workers."""
        params = self.params()
        env = {**self.env(), "CELERY_BROKER_URL": self.options.redis_url}
        import redis

        redis.Redis.from_url(self.options.redis_url).flushdb()
        with Workers(env, count=BENCH_WORKERS, log_dir=self.var_dir):
            if "recompute_tiers_workers" in wanted:
                baseline, (partners,) = self.timed(connection, [(baselines.TIERS, params)])
                spec = {"step": "dispatched", "job": "tiers", "as_of": self.as_of.isoformat()}
                job = run_step(spec, env, timeout=self.timeout)
                self.record("recompute_tiers_workers", job, baseline, "trailing-window SUM … GROUP BY partner",
                            partners=partners, chunks=job.get("chunks"), workers=BENCH_WORKERS)  # fmt: skip
            if "close_quarter_workers" in wanted:
                with connection.cursor() as cursor:  # the plain close, as close_quarter's row
                    cursor.execute("DELETE FROM partners_dellonlyattestation")
                connection.commit()
                baseline, counts = self._close_baseline(connection)
                spec = {"step": "dispatched", "job": "close", "as_of": self.as_of.isoformat()}
                job = run_step({**spec, "quarter": params["quarter"]}, env, timeout=self.timeout)
                self.record("close_quarter_workers", job, baseline, "INSERT … SELECT of statements and rebate lines",
                            rebate_lines=self._rebate_lines(connection), baseline_rebate_lines=counts[2],
                            chunks=job.get("chunks"), workers=BENCH_WORKERS)  # fmt: skip

    def _partner_id(self, connection) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM partners_partner WHERE code = %s", [LARGE_PARTNER])
            partner_id = cursor.fetchone()[0]
        connection.rollback()
        return partner_id

    def _statements(self, connection, params) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, line_count FROM rebates_statement WHERE quarter = %s ORDER BY line_count DESC, id",
                [params["quarter"]],
            )
            statements = cursor.fetchall()
        connection.rollback()
        rng = random.Random(self.sizes.seed)
        sample = statements[:1] + rng.sample(
            statements[1:], min(self.options.statement_sample - 1, len(statements) - 1)
        )
        baseline = sum(
            self.copy_out(connection, baselines.STATEMENT_LINES, {"statement_id": pk})[0] for pk, _n in sample
        )
        job = run_step(
            {"step": "statements", "quarter": params["quarter"], "sample_ids": [pk for pk, _n in sample]},
            self.env(),
            timeout=self.timeout,
        )
        all_seconds = job.get("extrapolated_all_seconds")
        self.record(
            "statement_pdfs_emails", job, baseline, "COPY TO of the same statements' lines",
            sample=len(sample), statements=job.get("statements"), sample_lines=sum(n for _pk, n in sample),
            largest_statement_lines=job.get("largest_statement_lines"),
            extrapolated_all_seconds=all_seconds,
            extrapolated_two_workers_seconds=all_seconds / 2 if all_seconds else None,
            per_statement=job.get("sample"),
        )  # fmt: skip
        if all_seconds is not None and job.get("statements"):
            allowed = 900 * job["statements"] / 5000
            self.rows["statement_pdfs_emails"]["met"] = all_seconds / 2 <= allowed

    def _pages(self, connection, wanted) -> None:
        params = self.params()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT o.number FROM deals_order o JOIN deals_orderline l ON l.order_id = o.id "
                "JOIN partners_partner p ON p.id = o.partner_id WHERE p.code = %s "
                "GROUP BY o.id ORDER BY count(*) DESC, o.id LIMIT 1",
                [LARGE_PARTNER],
            )
            order_number = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM deals_orderline l JOIN partners_partner p ON p.id = l.partner_id "
                           "WHERE p.code = %s", [LARGE_PARTNER])  # fmt: skip
            partner_lines = cursor.fetchone()[0]
            cursor.execute("SELECT max(line_count) FROM rebates_statement WHERE number = %s",
                           [f"RS-{params['quarter']}-{LARGE_PARTNER}"])  # fmt: skip
            statement_lines = cursor.fetchone()[0]
        connection.rollback()
        sessions = run_step(
            {
                "step": "sessions",
                "users": {"partner": f"admin@{LARGE_PARTNER.lower()}.example.com", "staff": STAFF_EMAIL},
            },
            self.env(),
            timeout=self.timeout,
        )
        if sessions["status"] != "ok":
            raise BenchError(f"could not sign in the benchmark users:\n{sessions.get('error')}")
        partner, staff = sessions["cookies"]["partner"], sessions["cookies"]["staff"]
        statement = f"RS-{params['quarter']}-{LARGE_PARTNER}"
        pages = {
            "page_dashboard": ("/dashboard/", partner),
            "page_orders": ("/deals/orders/", partner),
            "page_order_detail": (f"/deals/orders/{order_number}/", partner),
            "page_registrations": ("/deals/registrations/", partner),
            "page_routed": ("/deals/routed/", partner),
            "page_my_tier": ("/tier/", partner),
            "page_statements": ("/rebates/", partner),
            "page_statement_detail": (f"/rebates/{statement}/", partner),
            "page_admin_orders": ("/admin/deals/order/", staff),
            "page_admin_order_search": ("/admin/deals/order/?q=Bench+Customer+12", staff),
            "page_admin_order_lines": ("/admin/deals/orderline/", staff),
        }
        with Gunicorn(self.env(), workers=self.options.gunicorn_workers) as server:
            floor = load.single("127.0.0.1", server.port, {"floor": ("/accounts/login/", "")}, repeat=7)["floor"]
            results = load.single("127.0.0.1", server.port, pages, repeat=self.options.page_repeat)
            for name, result in results.items():
                ok = result["statuses"] == [200]
                job = {"seconds": result["seconds"] if ok else None, "status": "ok" if ok else "error"}
                if not ok:
                    job["error"] = f"HTTP {result['statuses']} for {result['path']}"
                self.record(name, job, floor["seconds"], "GET of the sign-in page (no data): the framework floor",
                            path=result["path"], bytes=result["bytes"], partner_lines=partner_lines,
                            statement_lines=statement_lines)  # fmt: skip
            if "pages_concurrent" in wanted:
                mix = [pages[name][0] for name in pages if not name.startswith("page_admin")]
                single_p50 = load.percentile([results[name]["seconds"] for name in pages if "admin" not in name], 0.5)
                outcome = load.concurrent("127.0.0.1", server.port, mix, partner, clients=self.options.clients,
                                          seconds=self.options.duration)  # fmt: skip
                ok = set(outcome["statuses"]) == {"200"}
                job = {"seconds": outcome["p95"] if ok else None, "status": "ok" if ok else "error"}
                if not ok:
                    job["error"] = f"statuses {outcome['statuses']}"
                self.record("pages_concurrent", job, single_p50, "single-client p50 of the same pages",
                            gunicorn_workers=self.options.gunicorn_workers, **outcome)  # fmt: skip
                self.rows["pages_concurrent"]["met"] = (
                    ok and outcome["p95"] <= 0.150 and outcome["requests_per_second"] >= 40
                )

    def group_attested(self, connection, wanted) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM partners_dellonlyattestation")
            attested = cursor.fetchone()[0]
        connection.rollback()
        self._close(connection, "close_quarter_attested")
        self.rows["close_quarter_attested"]["attested_partners"] = attested

    # report --------------------------------------------------------------------------------------------------

    def machine(self, load_before) -> dict:
        memory = ""
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal"):
                    memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        except OSError:
            pass
        model = ""
        try:
            model = next(
                (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")), ""
            )  # fmt: skip
        except OSError:
            pass
        with connect(self.url) as connection:
            server = connection.execute("SHOW server_version").fetchone()[0]
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        return {
            "nproc": os.cpu_count(),
            "cpu": model,
            "memory": memory,
            "postgresql": server,
            "python": platform.python_version(),
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
            "commit": commit.stdout.strip(),
        }


def format_table(report: dict) -> str:
    lines = [f"{'job':<26} {'seconds':>10} {'baseline s':>11} {'ratio':>8}  {'met':<4} target"]
    for row in report["rows"]:
        seconds = f"{row['seconds']:.3f}" if row["seconds"] is not None else row["status"]
        baseline = f"{row['baseline_seconds']:.3f}" if row["baseline_seconds"] is not None else "—"
        ratio = f"{row['ratio']:.1f}×" if row["ratio"] is not None else "—"
        met = {True: "yes", False: "no"}.get(row.get("met"), "—")
        lines.append(f"{row['job']:<26} {seconds:>10} {baseline:>11} {ratio:>8}  {met:<4} {row['target']}")
    machine = report["machine"]
    lines.append(
        f"machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']}, PostgreSQL {machine['postgresql']},"
        f" load {machine['load_average_before']} → {machine['load_average_after']}"
    )
    return "\n".join(lines)


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help="the benchmark's own database, dropped and regenerated (default: BENCH_DATABASE_URL or %(default)s)",
    )
    sizes = program.Sizes()
    parser.add_argument("--partners", type=int, default=sizes.partners)
    parser.add_argument("--customers", type=int, default=sizes.customers)
    parser.add_argument("--lines", type=int, default=sizes.lines, help="order lines over 24 months")
    parser.add_argument("--seed", type=int, default=sizes.seed)
    parser.add_argument("--attested-share", type=float, default=sizes.attested_share,
                        help="share of partners with a Dell-only attestation")  # fmt: skip
    parser.add_argument("--as-of", type=date.fromisoformat, help="the anchor day (default: today)")
    parser.add_argument("--reuse", action="store_true", help="reuse the generated program if its sizes match")
    parser.add_argument("--import-lines", type=int, default=100_000, help="lines of the timed import file")
    parser.add_argument("--statement-sample", type=int, default=20, help="statements rendered (PDF + email)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent page clients")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of concurrent load")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--page-repeat", type=int, default=5, help="timed GETs per page (single client)")
    parser.add_argument("--baseline-runs", type=int, default=2, help="runs of each baseline (the best is kept)")
    parser.add_argument("--job-timeout", type=float, default=900.0, help="seconds before a job is stopped")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
                        help="the broker of the workers' rows (its database is flushed)")  # fmt: skip
    parser.add_argument("--only", help=f"comma-separated rows to run, of: {', '.join(ROW_NAMES)}")
    parser.add_argument("--output", default=str(ROOT / "var" / "bench" / "latest.json"), help="the JSON report")
    parser.add_argument(
        "--work-dir",
        help="where the generated import files and the logs go (default: the report's folder; give var/bench "
        "when the report is written into the repository, e.g. docs/bench/)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    options = parse_arguments(argv)
    if not options.database_url.startswith(("postgres://", "postgresql://")):
        print("make bench runs on PostgreSQL only: give --database-url postgres://… (or BENCH_DATABASE_URL).",
              file=sys.stderr)  # fmt: skip
        return 2
    developer = os.environ.get("DATABASE_URL", "")
    if developer and database_name(developer) == database_name(options.database_url):
        print(f"Refusing to benchmark in {database_name(developer)}: it is DATABASE_URL's database. "
              "The benchmark drops and regenerates its own database.", file=sys.stderr)  # fmt: skip
        return 2
    try:
        connect(with_database(options.database_url, "postgres"), connect_timeout=5).close()
    except Exception as error:  # noqa: BLE001 - any connection failure is reported the same way
        print(f"Cannot reach PostgreSQL at {options.database_url}: {error}", file=sys.stderr)
        return 2
    bench = Bench(options)
    try:
        report = bench.run()
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    report["options"] = {key: str(value) for key, value in vars(options).items()} | {"sizes": asdict(bench.sizes)}
    output = Path(options.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(format_table(report))
    print(f"Written to {output}")
    return 0
