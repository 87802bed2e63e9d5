"""`python -m bench serving`: the serving models compared on the framework floor, in one run.

(a) gunicorn gthread as gunicorn.conf.py sets it, clients connecting directly; (b) the same
settings with gunicorn's gevent worker (`-k gevent`); (c) the production front, nginx with
deploy/nginx/eventflow.conf, before (a). For each: probe latency with no load, probe latency
while slow-header and slow-body clients are held open, and closed-loop throughput of /floor."""

import math
import subprocess
import time
from pathlib import Path

from bench import saturate, servers, slowclients
from bench.harness import REPO, log
from eventflow import front

HOST = "127.0.0.1"
FLOOR_APP = "bench.floor:app"


def run(args, workdir):
    ports = iter(range(args.first_port, args.first_port + 10))
    gthread = servers.Gunicorn("floor-gthread", REPO, FLOOR_APP, f"{HOST}:{next(ports)}", {}, workdir)
    gevent = servers.Gunicorn(
        "floor-gevent", REPO, FLOOR_APP, f"{HOST}:{next(ports)}", {}, workdir, extra_args=["-k", "gevent"]
    )
    started = [gthread, gevent]
    nginx = None
    try:
        for server in started:
            server.wait_ready("/floor")
        front_bind = f"{HOST}:{next(ports)}"
        with open(Path(workdir) / "nginx.log", "ab") as nginx_log:
            nginx = front.start(
                front_bind, gthread.bind, Path(workdir) / "nginx", output=nginx_log, ready_path="/floor"
            )
        models = [
            ("(a) gunicorn gthread, direct", gthread.bind),
            ("(b) gunicorn gevent, direct", gevent.bind),
            ("(c) nginx front before gunicorn gthread", front_bind),
        ]
        held = {label: under_slow_clients(label, bind, args) for label, bind in models}
        # Throughput in alternating rounds, so that the machine's drift (other work on the
        # shared cores) falls on every model alike; each round's figure is reported.
        rps = {label: [] for label, _ in models}
        for round_ in range(args.rounds):
            for label, bind in models:
                log(f"{label}: round {round_ + 1}, wrk -t1 -c{args.connections} -d{args.seconds}s /floor")
                rps[label].append(throughput(bind, args))
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=10)
        for server in started:
            server.stop()
    return table(held, rps, args)


def under_slow_clients(label, bind, args):
    port = int(bind.rsplit(":", 1)[1])
    log(f"{label}: probes at rest")
    idle = slowclients.probe(HOST, port, "/floor", args.probe_seconds)
    log(f"{label}: {args.slow_headers} slow-header + {args.slow_bodies} slow-body connections")
    with slowclients.SlowClients(HOST, port, args.slow_headers, args.slow_bodies) as slow:
        try:
            slow.wait_until_open(timeout=10)
        except TimeoutError as exc:
            log(f"{label}: {exc}")
        held = slowclients.probe(HOST, port, "/floor", args.probe_seconds)
        open_at_end = slow.open_now
    time.sleep(1)  # let the server drop the slow connections before the next measurement
    return idle, held, open_at_end


def throughput(bind, args):
    wrk = subprocess.run(
        ["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "5s", f"http://{bind}/floor"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return saturate.parse(wrk)["rps"]


def table(held_by_model, rps_by_model, args):
    lines = [
        f"| serving model | probes at rest p50 / p99 ms | with {args.slow_headers} slow-header + "
        f"{args.slow_bodies} slow-body connections: probes answered, p50 / p99 ms | slow connections open "
        f"at the end | /floor rps (wrk -c{args.connections}, each round) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, (idle, held, open_at_end) in held_by_model.items():
        answered = sum(1 for value in held if math.isfinite(value))
        lines.append(
            f"| {label} | {_ms(slowclients.percentile(idle, 0.5))} / {_ms(slowclients.percentile(idle, 0.99))} | "
            f"{answered} of {len(held)}: {_ms(slowclients.percentile(held, 0.5))} / "
            f"{_ms(slowclients.percentile(held, 0.99))} | {open_at_end} | "
            f"{' / '.join(f'{value:,.0f}' for value in rps_by_model[label])} |"
        )
    return "\n".join(lines)


def _ms(value):
    return "timeout" if math.isinf(value) else f"{value:.1f}"
