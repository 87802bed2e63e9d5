"""The service and the framework floor, each under gunicorn with the repository's gunicorn.conf.py."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BENCH_ROOT = Path(__file__).resolve().parent.parent  # where `bench` is importable from


class Gunicorn:
    def __init__(self, name, source_dir, app, bind, env, log_dir, extra_args=()):
        self.name, self.bind = name, bind
        self.log_path = Path(log_dir) / f"{name}.log"
        environ = dict(os.environ, **env)
        environ["GUNICORN_BIND"] = bind
        environ["PYTHONPATH"] = os.pathsep.join([str(source_dir), str(BENCH_ROOT)])
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            [str(gunicorn), "-c", str(Path(source_dir) / "gunicorn.conf.py"), *extra_args, app],
            cwd=source_dir,
            env=environ,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self):
        return f"http://{self.bind}"

    def wait_ready(self, path, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {path} within {timeout:.0f} s; see {self.log_path}")

    def worker_pids(self):
        """The gunicorn workers (children of the master), for profiling and CPU accounting."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def cpu_seconds(pids):
    """user + system CPU seconds used so far by these processes (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def machine_busy_seconds():
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    ticks = os.sysconf("SC_CLK_TCK")
    return (total - idle) / ticks, total / ticks
