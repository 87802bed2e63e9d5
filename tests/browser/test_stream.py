"""The pages on the real live stream: the front routes it to a stream process that the test
stops and starts again; meanwhile the pages poll, miss nothing, and return to the stream."""

import os
import signal

import pytest

from eventflow import front
from eventflow.serve import start_stream, start_web
from tests.browser.harness import FAST_SERVER_ENV, open_page
from tests.browser.test_pages import entered, send, watch_url
from tests.conftest import _free_port


class StreamProcess:
    """The stream process on a fixed bind, stopped and started at will."""

    def __init__(self, settings, bind, log):
        self.settings, self.bind, self.log = settings, bind, log
        self.master = None

    def start(self):
        self.master = start_stream(self.settings, self.bind, workers=1, output=self.log, env=FAST_SERVER_ENV)

    def stop(self):
        self.master.send_signal(signal.SIGTERM)
        self.master.wait(timeout=30)


@pytest.fixture
def served_with_stream(settings, services, tmp_path):
    """(base URL, StreamProcess): the front before an API gunicorn whose pages offer the stream
    and a stream process."""
    web_bind, stream_bind, listen = (f"127.0.0.1:{_free_port()}" for _ in range(3))
    log = open(os.path.join(services["state_dir"], "browser-stream.log"), "ab")  # noqa: SIM115 (kept for restarts)
    web = start_web(settings, web_bind, workers=1, output=log, env=FAST_SERVER_ENV)
    stream = StreamProcess(settings, stream_bind, log)
    stream.start()
    nginx = front.start(listen, web_bind, tmp_path / "front", stream_upstream=stream_bind)
    yield f"http://{listen}", stream
    log.close()
    nginx.terminate()
    nginx.wait(timeout=10)
    for master in (web, stream.master):
        if master.poll() is None:
            master.send_signal(signal.SIGTERM)
            master.wait(timeout=30)


def test_the_page_streams_falls_back_to_polls_while_the_stream_is_down_and_returns(
    served_with_stream, make_tenant, new_context
):
    base, stream = served_with_stream
    tenant = make_tenant()
    sender, _ = open_page(new_context(), watch_url(base, tenant, tenant.participant(name="Ada")[1]))
    receiver, log = open_page(new_context(), watch_url(base, tenant, tenant.participant(name="Bob")[1]))
    for page in (sender, receiver):
        entered(page)
    receiver.wait_for_selector("body[data-mode=stream]", timeout=10_000)
    send(sender, "chat-form", "over the stream")
    receiver.wait_for_selector("#messages li:has-text('over the stream')", timeout=5_000)

    stream.stop()
    receiver.wait_for_selector("body[data-mode=polls]", timeout=10_000)
    send(sender, "chat-form", "while the stream is down")
    receiver.wait_for_selector("#messages li:has-text('while the stream is down')", timeout=5_000)

    stream.start()
    # The client tries the stream again after 2 s, then every 30 s (times the cadence scale 0.4).
    receiver.wait_for_selector("body[data-mode=stream]", timeout=30_000)
    send(sender, "chat-form", "back on the stream")
    receiver.wait_for_selector("#messages li:has-text('back on the stream')", timeout=5_000)
    for text in ("over the stream", "while the stream is down", "back on the stream"):
        assert receiver.locator(f"#messages li:has-text('{text}')").count() == 1, text
    # The only errors are the outage's own: the stream refused (503) or cut off.
    assert all("503" in error or "events" in error for error in log.errors), log.errors
