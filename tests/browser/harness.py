"""Real headless Chromium (Debian's package) driven by Playwright, for the browser tests and the
screenshot command. Playwright downloads no browser here: it starts /usr/bin/chromium."""

import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass, field

CHROMIUM = "/usr/bin/chromium"
# Playwright adds --headless and a fresh --user-data-dir (a new temporary profile per launch).
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root, as CI does
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The pages' client cadences and the server's poll intervals, shortened so that a test waits
# seconds, not minutes. stats/access every 2 s (the limit is 60/min per viewer, and two pages of
# one viewer share it), chat and Q&A polls every second.
FAST_SERVER_ENV = {
    "EVENTFLOW_PAGE_CADENCE_SCALE": "0.4",
    "EVENTFLOW_MESSAGES_POLL_INTERVAL_SECONDS": "1",
    "EVENTFLOW_QUESTIONS_POLL_INTERVAL_SECONDS": "1",
}


def ensure_chromium():
    """Install Debian's chromium when it is missing (CI runs as root on a fresh machine)."""
    if os.path.exists(CHROMIUM):
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (as root)")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    noninteractive = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=noninteractive)


@contextmanager
def chromium():
    """A launched Chromium (playwright Browser), closed on exit."""
    from playwright.sync_api import sync_playwright

    ensure_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# Recorded in every page before its own scripts run: the CSP violations the page reports.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@dataclass
class PageLog:
    """What a page said (console errors, uncaught errors) and the API requests it sent."""

    errors: list = field(default_factory=list)
    api_requests: list = field(default_factory=list)
    failed_responses: list = field(default_factory=list)

    def watch(self, page):
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("request", lambda request: "/api/" in request.url and self.api_requests.append(request.url))
        page.on("response", self._record_failure)
        page.add_init_script(RECORD_CSP_VIOLATIONS)
        return page

    def _record_failure(self, response):
        if response.status >= 400:
            self.failed_responses.append(f"{response.status} {response.request.method} {response.url}")


def open_page(context, url, before_load=None):
    """A new page of `context`, logged, at `url`; `before_load(page)` runs before it loads."""
    log = PageLog()
    page = log.watch(context.new_page())
    if before_load:
        before_load(page)
    page.goto(url)
    return page, log


def csp_violations(page):
    return page.evaluate("window.__cspViolations")
