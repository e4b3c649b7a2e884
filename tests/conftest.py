"""Shared fixtures, including the real services: PostgreSQL, Redis, a Celery worker, SMTP and a browser.

Without them a test skips; with ``PORTAL_REQUIRE_SERVICES=1`` (CI) a missing service fails the test.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("PORTAL_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


def need(condition: bool, what: str):
    """Skip (locally) or fail (in CI) when a real service a test needs is missing."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required in CI (PORTAL_REQUIRE_SERVICES=1) but is not available")
    pytest.skip(f"{what} not available")


def on_postgresql() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


@pytest.fixture
def require_postgresql():
    need(on_postgresql(), "PostgreSQL (DATABASE_URL)")


@pytest.fixture
def as_of_today():
    from django.utils import timezone

    return timezone.localdate()


@pytest.fixture(autouse=True)
def _email_backend_locmem(settings):
    """Tests read emails from ``mail.outbox`` unless a test asks for the real SMTP server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1 (aiosmtpd); the portal sends through it with the SMTP backend."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Collect(Message):
        def handle_message(self, message):
            received.append(message)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield received
    finally:
        controller.stop()


def _redis_up(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER'] or ''}:{db['PASSWORD'] or ''}@{host}:{port}/{db['NAME']}"


def worker_log(name: str) -> Path:
    """Where the test worker named (or listening on the queue) ``name`` writes its log."""
    return ROOT / "var" / f"{name}.log"


class WorkerProcess:
    """A real ``celery worker`` process (solo pool: killing it kills the whole worker) on this test's database."""

    def __init__(self, *, broker: str, queue: str | None = None, env: dict | None = None):
        self.broker, self.queue, self.extra_env = broker, queue, env or {}
        self.name = queue or f"test-{os.getpid()}-{time.monotonic_ns()}"
        self.log = worker_log(self.name)
        self.process = None

    def start(self):
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": self.broker,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            **self.extra_env,
        }
        self.log.parent.mkdir(exist_ok=True)
        queues = ["-Q", self.queue] if self.queue else []
        with open(self.log, "ab") as log_file:
            offset = log_file.tell()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--concurrency=1",
                 *queues, "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel=INFO",
                 "-n", f"{self.name}@%h"],
                cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while b"ready." not in self.log.read_bytes()[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"celery worker did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)
        return self

    def kill(self):
        """SIGKILL: no clean-up, no acknowledgement, as when a machine dies."""
        self.process.kill()
        self.process.wait(timeout=20)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def celery_worker_process(django_db_serialized_rollback, transactional_db):
    """A real ``celery worker`` process on Redis, using this test's PostgreSQL database."""
    broker = settings.CELERY_BROKER_URL
    need(bool(broker) and _redis_up(broker), "Redis broker (CELERY_BROKER_URL)")
    need(on_postgresql(), "PostgreSQL (DATABASE_URL)")
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"
    worker = WorkerProcess(broker=broker, queue=queue)
    try:
        worker.start()
        yield queue
    finally:
        worker.stop()
        worker.log.unlink(missing_ok=True)


@pytest.fixture
def route_tasks():
    """Route tasks by name to queues (``route_tasks({"portal.tasks.x": queue})``) until the test ends.

    Celery builds its router once per app and keeps it, so setting ``task_routes`` alone is ignored once any
    earlier test has sent a task: the router is rebuilt here, and again afterwards."""
    from django.conf import settings

    from portal.celery import app

    def rebuild(routes):
        app.conf.task_routes = routes
        app.amqp.flush_routes()
        app.amqp.__dict__.pop("router", None)  # a cached_property holding the old routes

    def route(routes: dict):
        rebuild({**settings.CELERY_TASK_ROUTES, **{name: {"queue": queue} for name, queue in routes.items()}})

    try:
        yield route
    finally:
        rebuild(settings.CELERY_TASK_ROUTES)  # the portal's own routes (the email queue)


@pytest.fixture
def worker_factory(django_db_serialized_rollback, transactional_db):
    """Start real workers (``factory(broker=..., env=...)``) that may be killed; all are stopped at the end."""
    need(on_postgresql(), "PostgreSQL (DATABASE_URL)")
    workers = []

    def start(**kwargs) -> WorkerProcess:
        workers.append(WorkerProcess(**kwargs).start())
        return workers[-1]

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()
            worker.log.unlink(missing_ok=True)


class RedisServer:
    """A ``redis-server`` of this test's own, on a free port, that the test stops and starts (an outage)."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not _redis_up(self.url):
            if time.monotonic() > deadline:
                pytest.fail("redis-server did not start")
            time.sleep(0.1)
        return self

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=20)
            self.process = None


@pytest.fixture
def redis_server():
    need(shutil.which("redis-server") is not None, "redis-server")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker_at():
    """Point this process's Celery app at a real broker (``broker_at(url)``); eager mode off until the test ends."""
    from portal.celery import app

    previous = app.conf.broker_write_url if "broker_write_url" in app.conf.changes else None

    def reset_pool():  # forget the app's pools; kombu keeps one per broker URL, still usable by the next test
        app._pool = None
        amqp = app.__dict__.get("amqp")  # cached property: only reset when it was built
        if amqp is not None:
            amqp._producer_pool = None

    def point(url: str):
        reset_pool()
        app.conf.broker_write_url = url  # what publishing uses (broker_url itself is fixed by the settings)
        app.conf.task_always_eager = False

    try:
        yield point
    finally:
        reset_pool()
        app.conf.broker_write_url = previous


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser_page(live_server):
    """A real headless Debian chromium driven by Playwright."""
    need(os.path.exists(CHROMIUM), "Debian chromium (/usr/bin/chromium)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(locale="en-US")
        page = context.new_page()
        page.set_default_timeout(15000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


@pytest.fixture
def shot(request):
    """``shot(page, "name")``: a full-page PNG of the browser page into ``PORTAL_SCREENSHOTS_DIR`` (default
    ``var/screenshots``), named after the test; CI keeps the directory as an artifact."""
    directory = Path(os.environ.get("PORTAL_SCREENSHOTS_DIR") or Path(settings.BASE_DIR) / "var" / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = directory / f"{request.node.name[:80]}--{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(autouse=True)
def _celery_eager():
    """Tasks run in-process in tests, except where ``celery_worker_process`` hands them to a real worker."""
    from portal.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.fixture
def partner_user(db):
    """A partner admin user, signed-in capable, with a verified email."""
    from tests.factories import MembershipFactory

    return MembershipFactory(role="admin").user


def pytest_sessionfinish(session, exitstatus):
    """In CI (PORTAL_REQUIRE_SERVICES=1) a skipped test is a failure: every real service must be there."""
    if not REQUIRE_SERVICES:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        if reporter:
            reporter.write_line(
                f"CI: {skipped} test(s) skipped; skips are failures when services are required", red=True
            )
        session.exitstatus = 1


def pytest_collection_modifyitems(config, items):
    """A transactional test flushes the database, program defaults included (they come from data migrations);
    it must restore them with ``serialized_rollback=True`` or every later test runs without tiers and zones."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            raise pytest.UsageError(f"{item.nodeid}: use django_db(transaction=True, serialized_rollback=True)")


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """No persistent connections in tests: the live server's request threads would otherwise leave theirs open,
    and PostgreSQL refuses to drop the test database at the end."""
    from django.db import connections

    for alias in connections:
        connections[alias].settings_dict["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Tests create hundreds of users: a deliberately slow production hasher only costs time here."""
    from django.test.utils import override_settings

    override = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    override.enable()
    yield
    override.disable()


@pytest.fixture(autouse=True)
def _default_language_after_each_test():
    """A test that renders in French must not leave the next test's thread speaking French."""
    yield
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
