"""The server hooks both gunicorn configurations run in each worker."""

import gc
import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("conf", ["gunicorn.conf.py", "gunicorn_stream.conf.py"])
def test_a_worker_is_ready_and_frozen_before_it_accepts_a_connection(conf, make_app, monkeypatch):
    hooks = runpy.run_path(str(ROOT / conf))
    monkeypatch.setattr("eventflow.stream.hub.watch_worker", lambda worker: None)
    # The test process's own objects stay with the collector: only the call is checked here.
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(gc.get_count()))
    app = make_app()
    pool = app.extensions["eventflow.pool"]
    assert pool.closed
    try:
        hooks["post_worker_init"](SimpleNamespace(wsgi=app, log=logging.getLogger("test")))
        assert not pool.closed, "the pool is open before the first request"
        assert len(frozen) == 1, "what the worker made so far is frozen out of the collector, once"
    finally:
        app.extensions["eventflow.redis"].close()
