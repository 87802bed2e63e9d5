"""The README's screenshots of the watch page, the admin console and the API docs:

    .venv/bin/python -m tests.browser.screenshots [--out docs/screenshots]

Starts a private PostgreSQL and Redis in a temporary directory, migrates, seeds the demo, runs
the rollups, serves the app with gunicorn and photographs the pages in headless Chromium; then
stops everything and removes the directory.
"""

import argparse
import secrets
import signal
import tempfile
from pathlib import Path

from eventflow.config import Settings
from eventflow.embedded import EmbeddedServices
from eventflow.migrations import upgrade
from eventflow.pages.links import console_url, watch_url
from eventflow.seed import seed_demo
from eventflow.serve import start_web
from jobs import access_logs, attendance
from jobs.worker import connect
from tests.browser.harness import chromium
from tests.conftest import _free_port

VIEWPORT = {"width": 1280, "height": 800}
CONSOLE_VIEWPORT = {"width": 1280, "height": 1100}  # live list, chart, funnel, chat, Q&A
SETTLE_MS = 2_500  # the pages' first polls and the chart


def photograph(out):
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="eventflow-screenshots-") as state_dir:
        services = EmbeddedServices(state_dir)
        owner_url = services.start_postgres()
        try:
            settings = Settings.from_env(
                {},
                database_url=services.role_url(owner_url, "eventflow_app"),
                database_owner_url=owner_url,
                worker_database_url=services.role_url(owner_url, "eventflow_worker"),
                redis_url=services.start_redis(),
                jwt_secret=secrets.token_hex(32),
                state_dir=state_dir,
            )
            upgrade(owner_url, log=lambda message: None)
            made = seed_demo(owner_url, settings.jwt_secret, settings.jwt_audience)
            with connect({"WORKER_DATABASE_URL": settings.worker_database_url}) as worker:
                access_logs.run(worker, settings, full=True)
                attendance.run(worker, settings, full=True)
            bind = f"127.0.0.1:{_free_port()}"
            server = start_web(settings, bind, workers=1)
            try:
                _photograph_pages(f"http://{bind}", made, out)
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
        finally:
            services.stop()


def _photograph_pages(base, made, out):
    client = made["agencies"][0]["clients"][0]
    live = next(webinar for webinar in client["webinars"] if webinar["status"] == "live")
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)
        watch = context.new_page()
        watch.goto(watch_url(base, live["id"], live["participant"]["token"]))
        watch.wait_for_selector("#viewers li.me")
        watch.fill("#chat-input", "Hello from the reference client!")
        watch.click("#chat-form button")
        watch.wait_for_timeout(SETTLE_MS)
        watch.screenshot(path=out / "watch.png")

        console = context.new_page()
        console.set_viewport_size(CONSOLE_VIEWPORT)
        console.goto(console_url(base, live["id"], client["admin_token"]))
        console.wait_for_selector("#chart canvas")
        console.wait_for_selector("#attendance tr")
        console.wait_for_timeout(SETTLE_MS)
        console.screenshot(path=out / "console.png")

        docs = context.new_page()
        docs.goto(f"{base}/api/docs")
        docs.wait_for_selector(".opblock")
        docs.screenshot(path=out / "docs.png")
        context.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    photograph(args.out)
    for name in ("watch", "console", "docs"):
        print(args.out / f"{name}.png")


if __name__ == "__main__":
    main()
