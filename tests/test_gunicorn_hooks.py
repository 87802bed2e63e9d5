"""The server hooks both gunicorn configurations run in each worker."""

import gc
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("conf", ["gunicorn.conf.py", "gunicorn_stream.conf.py"])
def test_a_worker_freezes_what_it_loaded_out_of_the_collector(conf, monkeypatch):
    hooks = runpy.run_path(str(ROOT / conf))
    monkeypatch.setattr("eventflow.stream.hub.watch_worker", lambda worker: None)
    assert gc.get_freeze_count() == 0
    try:
        hooks["post_worker_init"](object())
        assert gc.get_freeze_count() > 10_000, "the objects made so far are out of the collector's walks"
    finally:
        gc.unfreeze()
