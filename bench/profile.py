"""Where a hot request spends its time: py-spy samples every gunicorn worker while wrk saturates
one endpoint, and the samples are folded into the functions that cost the most.

    python -m bench profile [--seconds 20] [--rate 250]

Writes the raw collapsed stacks next to the report (`--out-dir`), so a flame graph can be drawn
from them later (e.g. with inferno or speedscope).
"""

import collections
import subprocess
import sys
from pathlib import Path

from bench import saturate

ENDPOINTS = ("stats/access (participant, If-None-Match)", "presence/ping")


def record(pid, seconds, rate, out_path, wall):
    py_spy = Path(sys.executable).with_name("py-spy")
    command = [str(py_spy), "record", "--pid", str(pid), "--subprocesses", "--nonblocking"]
    command += ["--idle"] if wall else []
    command += ["--duration", str(seconds), "--rate", str(rate), "--format", "raw", "--output", str(out_path)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


ROOT = "ThreadWorker.handle (workers/gthread.py)"  # one request on a gthread worker thread


def fold(raw_path):
    """(samples in requests, {function: inclusive samples}, {function: self samples}).

    Only stacks under gunicorn's per-request handler count: the rest are idle threads, the pool's
    housekeeping and the arbiter. Samples are wall-clock (py-spy --idle), so time a request spends
    waiting for Redis, PostgreSQL or the GIL counts, as its latency does; without --idle only
    threads running on a CPU are sampled: the CPU cost that limits throughput."""
    inclusive, own = collections.Counter(), collections.Counter()
    in_requests = 0
    for line in Path(raw_path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [_short(frame) for frame in stack.split(";")]
        if ROOT not in frames:
            continue
        frames = frames[frames.index(ROOT) :]
        count = int(count)
        in_requests += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    return in_requests, inclusive, own


def _short(frame):
    # "function (path/to/module.py:123)" -> "function (module.py)"
    name, _, where = frame.partition(" (")
    path = where.split(":")[0]
    return f"{name} ({'/'.join(Path(path).parts[-2:])})" if path else name


def table(raw_path, requests, rate, wall, top=40):
    in_requests, inclusive, own = fold(raw_path)
    ms = 1000.0 / rate / max(1, requests)  # one sample, in ms per request
    what = "wall time (threads overlap: time in the app, not CPU)" if wall else "CPU time (on-CPU samples)"
    lines = [
        f"{in_requests} samples inside requests = {in_requests * ms:.2f} ms of {what} per request "
        f"({requests} requests answered while sampling)",
        "",
        "| function (inclusive: itself and what it calls) | share of request time | ms per request |",
        "|---|---:|---:|",
    ]
    for name, count in inclusive.most_common(top):
        lines.append(f"| `{name}` | {count / in_requests:.1%} | {count * ms:.3f} |")
    lines += ["", "| function (self: leaf frames) | share of request time | ms per request |", "|---|---:|---:|"]
    for name, count in own.most_common(20):
        lines.append(f"| `{name}` | {count / in_requests:.1%} | {count * ms:.3f} |")
    return "\n".join(lines)


def profile(session, seconds, rate, out_dir, wall=False):
    out_dir.mkdir(parents=True, exist_ok=True)
    crowd = session.seed(viewers=0, admins=0, extra=session.args.saturation_tokens)
    tokens_file = session.workdir / "profile-tokens.txt"
    tokens_file.write_text("\n".join(crowd.extra_tokens) + "\n")
    sections = []
    targets = {label: rest for label, *rest in saturate.targets(session.app_url, session.floor_url, crowd.webinar_id)}
    for label in ENDPOINTS:
        url, method, body, etag = targets[label]
        raw = out_dir / f"{'wall' if wall else 'cpu'}-{label.split(' ')[0].replace('/', '-')}.collapsed.txt"
        spy = record(session.app.process.pid, seconds, rate, raw, wall)
        result = saturate.run_wrk(url, method, tokens_file, body, etag, seconds=seconds)
        spy.wait(timeout=seconds + 60)
        requests = sum(result["statuses"].values())
        title = f"### {label}: {result['rps']:.0f} rps under py-spy ({rate} Hz, {'wall' if wall else 'CPU'})"
        sections += [title, "", table(raw, requests, rate, wall), ""]
    return "\n".join(sections)
