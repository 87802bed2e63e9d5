"""Maximum throughput, closed loop: wrk with a fixed number of connections, each sending its next
request as soon as the previous answer arrives, one endpoint at a time. This is the framework-floor
comparison (issue 3's note), not a latency measurement: closed loops hide queueing."""

import re
import shutil
import subprocess
from pathlib import Path

LUA = Path(__file__).resolve().parent / "wrk" / "random_token.lua"
# A session the server never issued: stats/access then does the same Redis read a real client's
# poll does (is this session superseded?) and finds nothing.
UNKNOWN_SESSION = "00000000-0000-4000-8000-000000000000"


def wrk_available():
    return shutil.which("wrk") is not None


def run_wrk(url, method, tokens_file, body="", etag=False, threads=1, connections=32, seconds=10):
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA),
        url,
        "--",
        method,
        str(tokens_file),
        body,
        "etag" if etag else "",
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    return parse(out)


def parse(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    statuses = {}
    match = re.search(r"^statuses(.*)$", out, re.M)
    for part in match.group(1).split() if match else []:
        code, count = part.split("=")
        statuses[code] = int(count)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    latency = re.search(r"latency_us p50=(\d+) p99=(\d+)", out)
    return {
        "rps": rps,
        "statuses": statuses,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else "",
        "p50_ms": int(latency.group(1)) / 1000 if latency else None,
        "p99_ms": int(latency.group(2)) / 1000 if latency else None,
    }


def targets(app_url, floor_url, webinar_id):
    """(label, url, method, body, etag) of each saturation run, in the order they run."""
    base = f"{app_url}/api/webinars/{webinar_id}"
    stats = f"{base}/stats/access?session_id={UNKNOWN_SESSION}"
    return [
        ("floor (constant Flask endpoint)", f"{floor_url}/floor", "GET", "", False),
        ("presence/ping", f"{base}/presence/ping", "POST", "{}", False),
        ("stats/access (participant, If-None-Match)", stats, "GET", "", True),
        ("stats/access (participant, no ETag)", stats, "GET", "", False),
        ("floor (again, drift check)", f"{floor_url}/floor", "GET", "", False),
    ]
