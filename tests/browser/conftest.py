"""The browser tests' world: gunicorn on the suite's real servers with short cadences, and one
Chromium for the module."""

import os
import signal

import pytest

from eventflow.serve import start_web
from tests.browser.harness import FAST_SERVER_ENV, chromium, csp_violations, open_page
from tests.conftest import _free_port


@pytest.fixture(scope="session")
def page_server(settings, services):
    """The app under gunicorn (two workers, as ops run it) with the pages' cadences shortened;
    its log is gunicorn.log in the suite's state directory."""
    bind = f"127.0.0.1:{_free_port()}"
    with open(os.path.join(services["state_dir"], "gunicorn.log"), "ab") as log:
        master = start_web(settings, bind, workers=2, output=log, env=FAST_SERVER_ENV)
    yield f"http://{bind}"
    master.send_signal(signal.SIGTERM)
    master.wait(timeout=30)


@pytest.fixture(scope="session")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def new_context(browser):
    """Factory of fresh browser contexts (each its own cookies and sessionStorage: another
    device, to the server), closed after the test."""
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def pages(new_context):
    """Opens pages (each in a new context, i.e. another device, unless one is given) and checks,
    after the test, that none logged a console error or met a CSP violation."""
    opened = []

    def open_(url, context=None, before_load=None):
        context = context or new_context()
        page, log = open_page(context, url, before_load)
        opened.append((page, log))
        return page, log

    yield open_
    for page, log in opened:
        assert log.errors == [], (page.url, log.errors, log.failed_responses)
        if not page.is_closed():
            assert csp_violations(page) == [], page.url
