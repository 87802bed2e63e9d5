"""`python -m bench stream`: N event streams held by generator processes on this machine, while
chat runs at 2 messages/s, a question comes every 10 s and viewers' presence changes the live list
(so `access` events flow). Reports connections held, the stream process's memory per connection
and CPU, delivery latency (a message's commit, its `created_at`, to its event received), the API's
latency beside it (the posts and a stats/access probe), and database reads per change."""

import asyncio
import multiprocessing
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import orjson

from bench import servers
from bench.harness import log

CONNECT_PER_SECOND = 1000  # all generators together
MESSAGES_PER_SECOND = 2.0
QUESTION_EVERY_SECONDS = 10.0
PRESENCE_PER_SECOND = 5.0  # viewers whose ping or exit changes the live list
PROBE_PER_SECOND = 10.0


def _request(url, token, method="GET", body=None):
    """(status, seconds) of one API request."""
    data = None if body is None else orjson.dumps(body)
    headers = {"Authorization": f"Bearer {token}"} | ({"Content-Type": "application/json"} if data else {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=10) as answer:
            answer.read()
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = 0
    return status, time.perf_counter() - started


async def _hold(host, port, path, token, started_at, stats, stop_at):
    """One stream client: holds the stream until stop_at, timing each message event."""
    try:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    except OSError:
        stats["connect_errors"] += 1
        return
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    held = False
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=max(0.1, stop_at - time.time()))
        if not head.startswith(b"HTTP/1.1 200"):
            stats["refused"] += 1
            return
        stats["held"] += 1
        held = True
        partial = b""
        while time.time() < stop_at:
            # Whole reads, split into lines here: a coroutine switch per line would make the
            # generator, not the server, what is measured.
            data = await asyncio.wait_for(reader.read(1 << 16), timeout=max(0.1, stop_at - time.time()))
            if not data:
                stats["dropped"] += 1
                return
            received = time.time()
            *lines, partial = (partial + data).split(b"\n")
            for line in lines:
                if line.startswith(b"event: "):
                    stats["events"] += 1
                elif line.startswith(b"data: {") and b'"author_role"' in line:
                    sent = datetime.fromisoformat(orjson.loads(line[6:])["created_at"]).timestamp()
                    if sent >= started_at:
                        stats["latencies"].append(received - sent)
        stats["still_open"] += 1
    except TimeoutError:
        stats["still_open" if held else "unanswered"] += 1
    except (asyncio.IncompleteReadError, ConnectionError):
        stats["dropped" if held else "connect_errors"] += 1
    finally:
        writer.close()


def _generator(base, webinar_id, tokens, connect_rate, measure_from, stop_at, results):
    """One generator process: opens its streams at `connect_rate`, holds them until stop_at."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    path = f"/api/webinars/{webinar_id}/events"
    stats = {"held": 0, "refused": 0, "connect_errors": 0, "unanswered": 0, "dropped": 0, "still_open": 0, "events": 0}
    stats["latencies"] = []

    async def run():
        tasks = []
        for number, token in enumerate(tokens):
            tasks.append(asyncio.create_task(_hold(host, int(port), path, token, measure_from, stats, stop_at)))
            if number % 50 == 49:
                await asyncio.sleep(50 / connect_rate)
        await asyncio.gather(*tasks)

    asyncio.run(run())
    results.put(stats)


def _rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _metric(base, name, labels=""):
    """The sum of a metric's samples (with `labels` in them) on the server's /metrics."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and labels in line and not line.startswith("#")
    )


def _reads(session, stream):
    rebuilds = 'snapshot="chat_window"'
    return (
        _metric(stream.url, "eventflow_stream_database_reads_total")
        + _metric(stream.url, "eventflow_snapshot_rebuilds_total", rebuilds)
        + _metric(session.app.url, "eventflow_snapshot_rebuilds_total", rebuilds)
    )


def _percentile(values, share):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(session, args):
    crowd = session.seed(args.streams, admins=2, present=min(args.streams, 500))
    env = session.app_env | {
        "PROMETHEUS_MULTIPROC_DIR": str(session._fresh_dir("stream-metrics")),
        "EVENTFLOW_STREAM_MAX_CONNECTIONS": str(args.streams + 100),
    }
    stream = servers.Gunicorn(
        "stream", session.source, "wsgi:app", args.stream_bind, env, session.workdir, conf="gunicorn_stream.conf.py"
    )
    session.servers.append(stream)
    stream.wait_ready("/healthz")
    pids = [stream.process.pid, *stream.worker_pids()]
    rss_before = _rss_kb(pids)
    api = f"{session.app.url}/api/webinars/{crowd.webinar_id}"

    ramp = args.streams / CONNECT_PER_SECOND
    measure_from = time.time() + ramp + 3
    stop_at = measure_from + args.duration
    results = multiprocessing.Queue()
    shards = [crowd.viewer_tokens[n :: args.generators] for n in range(args.generators)]
    generators = [
        multiprocessing.Process(
            target=_generator,
            args=(
                stream.url,
                crowd.webinar_id,
                shard,
                CONNECT_PER_SECOND / args.generators,
                measure_from,
                stop_at,
                results,
            ),
        )
        for shard in shards
    ]
    for generator in generators:
        generator.start()
    log(f"stream bench: {args.streams} streams over {args.generators} generators, ramp {ramp:.0f} s")
    while time.time() < measure_from:
        time.sleep(0.2)

    rss_held = _rss_kb(pids)
    cpu_before, reads_before = servers.cpu_seconds(pids), _reads(session, stream)
    posts, probes, changes = [], [], 0
    posters = crowd.viewer_tokens[:40]  # who post: streaming viewers too, each well under its limit
    next_message = next_question = next_presence = next_probe = time.time()
    number = 0
    while time.time() < stop_at:
        now = time.time()
        if now >= next_message:
            status, seconds = _request(f"{api}/messages", posters[number % 40], "POST", {"body": f"bench {number}"})
            posts.append(seconds)
            changes += status == 201
            number += 1
            next_message += 1 / MESSAGES_PER_SECOND
        if now >= next_question:
            status, seconds = _request(f"{api}/questions", posters[number % 40], "POST", {"body": "bench?"})
            changes += status == 201
            next_question += QUESTION_EVERY_SECONDS
        if now >= next_presence:
            viewer = crowd.viewer_tokens[(number * 7) % len(crowd.viewer_tokens)]
            _request(f"{api}/presence/ping", viewer, "POST", {})
            next_presence += 1 / PRESENCE_PER_SECOND
        if now >= next_probe:
            probes.append(_request(f"{api}/stats/access", crowd.viewer_tokens[number % 40])[1])
            next_probe += 1 / PROBE_PER_SECOND
        time.sleep(max(0.0, min(next_message, next_question, next_presence, next_probe) - time.time()))
    cpu = servers.cpu_seconds(pids) - cpu_before
    reads = _reads(session, stream) - reads_before

    merged = {"held": 0, "refused": 0, "connect_errors": 0, "unanswered": 0, "dropped": 0, "still_open": 0, "events": 0}
    latencies = []
    for _ in generators:
        stats = results.get(timeout=args.duration + 120)
        latencies += stats.pop("latencies")
        for key, value in stats.items():
            merged[key] += value
    for generator in generators:
        generator.join(timeout=30)
    per_connection_kb = (rss_held - rss_before) / max(1, merged["held"])
    held = f"{merged['still_open']} / {merged['held']} / {merged['unanswered']} / {merged['refused']}"
    held += f" / {merged['connect_errors']} / {merged['dropped']}"
    latency = [_ms(_percentile(latencies, share)) for share in (0.5, 0.99)] + [_ms(max(latencies, default=0.0))]
    rows = [
        ("streams held to the end / opened / unanswered by the end / refused / connect errors / dropped", held),
        ("stream process RSS before / held (all workers)", f"{rss_before / 1024:.0f} MB / {rss_held / 1024:.0f} MB"),
        ("memory per connection", f"{per_connection_kb:.1f} KB"),
        ("stream process CPU while held", f"{cpu / args.duration * 100:.0f} % of one core"),
        ("message deliveries timed", str(len(latencies))),
        ("delivery latency p50 / p99 / max (commit to event received)", " / ".join(latency)),
        ("events received (all kinds)", str(merged["events"])),
        ("API POST messages p50 / p99", f"{_ms(_percentile(posts, 0.5))} / {_ms(_percentile(posts, 0.99))}"),
        ("API GET stats/access probe p50 / p99", f"{_ms(_percentile(probes, 0.5))} / {_ms(_percentile(probes, 0.99))}"),
        (
            "changes (messages + questions) / database reads",
            f"{changes} / {reads:.0f} ({reads / max(1, changes):.2f} per change)",
        ),
    ]
    title = f"### {args.streams} streams ({args.generators} generator processes, {args.duration:.0f} s measured)"
    return "\n".join([title, "", "| figure | value |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)])


def _ms(seconds):
    return f"{seconds * 1000:.0f} ms"
