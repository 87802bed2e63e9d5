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


def record(pid, seconds, rate, out_path):
    py_spy = Path(sys.executable).with_name("py-spy")
    command = [str(py_spy), "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--idle"]
    command += ["--duration", str(seconds), "--rate", str(rate), "--format", "raw", "--output", str(out_path)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fold(raw_path):
    """(samples, busy samples, {function: inclusive busy samples}, {function: self busy samples}).

    A sample is busy unless its leaf is a thread waiting for work (selector / queue / lock wait
    in gunicorn's own loop): those are idle threads, not request cost."""
    inclusive, own = collections.Counter(), collections.Counter()
    total = busy = 0
    for line in Path(raw_path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        count = int(count)
        total += count
        frames = [_short(frame) for frame in stack.split(";")]
        if _idle(frames):
            continue
        busy += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    return total, busy, inclusive, own


def _short(frame):
    # "function (path/to/module.py:123)" -> "function (module.py)"
    name, _, where = frame.partition(" (")
    path = where.split(":")[0]
    return f"{name} ({'/'.join(Path(path).parts[-2:])})" if path else name


IDLE_LEAVES = ("select (selectors.py)", "wait (threading.py)", "poll (selectors.py)", "sleep (gthread.py)")


def _idle(frames):
    leaf = frames[-1]
    return any(leaf.startswith(idle.split(" ")[0]) and idle.split(" ")[1] in leaf for idle in IDLE_LEAVES) or (
        "run_for_one" in " ".join(frames[-3:]) or "wait_for_and_dispatch" in " ".join(frames[-2:])
    )


def table(raw_path, requests, top=25):
    total, busy, inclusive, own = fold(raw_path)
    scale = 1.0 / max(1, requests)
    lines = [
        f"{total} samples, {busy} busy (the rest idle threads waiting for work); per request = samples / "
        f"{requests} requests answered while sampling",
        "",
        "| function (inclusive: itself and what it calls) | share of busy samples | samples per request |",
        "|---|---:|---:|",
    ]
    for name, count in inclusive.most_common(top):
        lines.append(f"| `{name}` | {count / busy:.1%} | {count * scale:.3f} |")
    lines += ["", "| function (self: leaf frames) | share of busy samples |", "|---|---:|"]
    for name, count in own.most_common(15):
        lines.append(f"| `{name}` | {count / busy:.1%} |")
    return "\n".join(lines)


def profile(session, seconds, rate, out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    crowd = session.seed(viewers=0, admins=0, extra=session.args.saturation_tokens)
    tokens_file = session.workdir / "profile-tokens.txt"
    tokens_file.write_text("\n".join(crowd.extra_tokens) + "\n")
    sections = []
    targets = {label: rest for label, *rest in saturate.targets(session.app.url, session.floor.url, crowd.webinar_id)}
    for label in ENDPOINTS:
        url, method, body, etag = targets[label]
        raw = out_dir / f"{label.split(' ')[0].replace('/', '-')}.collapsed.txt"
        spy = record(session.app.process.pid, seconds, rate, raw)
        result = saturate.run_wrk(url, method, tokens_file, body, etag, seconds=seconds)
        spy.wait(timeout=seconds + 60)
        requests = sum(result["statuses"].values())
        sections += [f"### {label}: {result['rps']:.0f} rps under py-spy ({rate} Hz)", "", table(raw, requests), ""]
    return "\n".join(sections)
