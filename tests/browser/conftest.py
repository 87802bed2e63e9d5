"""The browser tests' world: gunicorn on the suite's real servers with short cadences, and one
Chromium for the module."""

import signal

import pytest

from eventflow.serve import start_web
from tests.browser.harness import FAST_SERVER_ENV, chromium
from tests.conftest import _free_port


@pytest.fixture(scope="session")
def page_server(settings):
    """The app under gunicorn (two workers, as ops run it) with the pages' cadences shortened."""
    bind = f"127.0.0.1:{_free_port()}"
    master = start_web(settings, bind, workers=2, env=FAST_SERVER_ENV)
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
