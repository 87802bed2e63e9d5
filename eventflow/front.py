"""The production front as a local instance: Debian's nginx with deploy/nginx/eventflow.conf,
filled in for one listen address and one gunicorn upstream, under a private prefix directory
(its pid file, temporary files and the filled-in configuration), in the foreground."""

import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEMPLATE = PROJECT_DIR / "deploy" / "nginx" / "eventflow.conf"
PLACEHOLDERS = ("${EVENTFLOW_LISTEN}", "${EVENTFLOW_UPSTREAM}")
READY_SECONDS = 10
# Debian installs nginx in /usr/sbin, which an unprivileged user's PATH often lacks.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def nginx_binary():
    found = shutil.which("nginx", path=SEARCH_PATH)
    if not found:
        raise RuntimeError("nginx is not installed: apt-get install nginx (the production front, README)")
    return found


def render(listen, upstream):
    """The template with its two placeholders filled in."""
    text = TEMPLATE.read_text()
    for placeholder, value in zip(PLACEHOLDERS, (listen, upstream), strict=True):
        text = text.replace(placeholder, value)
    if "${EVENTFLOW_" in text:
        raise RuntimeError(f"{TEMPLATE} has a placeholder that front.render does not fill")
    return text


def command(listen, upstream, prefix):
    """Write the configuration under `prefix` and return the nginx command that serves it in the
    foreground."""
    prefix = Path(prefix).resolve()
    (prefix / "temp").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(render(listen, upstream))
    # Started by root, nginx's workers would become `nobody`, who cannot reach a private prefix
    # (or gunicorn's socket) under a 0700 directory: a local instance keeps its starter's user.
    globals_ = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    return [nginx_binary(), "-p", str(prefix), "-c", str(conf), "-e", "stderr", "-g", globals_]


def start(listen, upstream, prefix, output=subprocess.DEVNULL, ready_path="/healthz"):
    """nginx in front of `upstream`; returns once `listen` answers `ready_path` through it."""
    process = subprocess.Popen(command(listen, upstream, prefix), stdout=output, stderr=output)
    deadline = time.monotonic() + READY_SECONDS
    while not answers(f"http://{listen}{ready_path}"):
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with status {process.returncode} at start")
        if time.monotonic() > deadline:
            process.terminate()  # not kill: nginx's master takes its workers down with it
            process.wait(timeout=10)
            raise RuntimeError(f"nginx did not answer on {listen} within {READY_SECONDS} s")
        time.sleep(0.1)
    return process


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False
