"""README screenshots: seed the demo into a throwaway SQLite database, serve it, and capture the dashboard, My tier
and a statement at 1366 px into docs/screenshots/ (``make screenshots``). Needs Debian's chromium."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
LOGIN = "admin@demo-de1.example.com"


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="portal-shots-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work / 'demo.sqlite3'}",
        "PORTAL_VAR_DIR": str(work / "var"),
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
    }
    env.pop("PORTAL_REQUIRE_SERVICES", None)
    python = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*python, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*python, "seed_demo", "--quiet-logins"], env=env, check=True, cwd=ROOT)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*python, "runserver", "--noreload", f"127.0.0.1:{port}"], env=env, cwd=ROOT)
    try:
        for _ in range(60):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        capture(base)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def capture(base: str) -> None:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from demo.partners import DEMO_PASSWORD

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="en-US")
        page.set_default_timeout(20000)
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=login]", LOGIN)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("form button[type=submit]:not(.lang)")
        page.wait_for_url(f"{base}/dashboard/")
        page.screenshot(path=str(OUT / "dashboard.png"))
        page.goto(f"{base}/tier/")
        page.screenshot(path=str(OUT / "my-tier.png"))
        page.goto(f"{base}/rebates/")
        page.click("main table a[href^='/rebates/']")
        page.wait_for_load_state()
        page.screenshot(path=str(OUT / "statement.png"))
        browser.close()
    for path in sorted(OUT.glob("*.png")):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    sys.exit(main())
