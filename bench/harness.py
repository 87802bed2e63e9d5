"""One benchmark session: a fresh database, the service and the floor under gunicorn, then the
crowd (open loop) and the saturation runs (closed loop), measured with pg_stat_statements."""

import json
import os
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict
from pathlib import Path

from bench import database, pgstats, report, saturate, schedule, servers
from eventflow import front

REPO = Path(__file__).resolve().parent.parent
AUDIENCE = "eventflow"
GENERATOR_NICENESS = -10
FLOOR_TARGET_NOTE = "\n- **crowd target: the framework floor** (every path a constant 200)"


class Session:
    """Database + both servers, from `start()` until `stop()`."""

    def __init__(self, args):
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="eventflow-bench-"))
        self.source = self._source_tree(args.ref)
        self.secret = secrets.token_urlsafe(48)
        self.servers = []
        self.fronts = []
        self.loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])

    def _source_tree(self, ref):
        """The working tree, or `ref` exported with git archive (figures for a known commit)."""
        if not ref:
            return REPO
        target = self.workdir / "source"
        target.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        return target

    def start(self):
        fresh = "as it is" if self.args.reuse_database else "fresh"
        log(f"database {self.args.database} on {self.args.postgres} ({fresh}), source {self.source}")
        self.urls = database.recreate(self.args.postgres, self.args.database, self.source, self.args.reuse_database)
        self.pg_stats = pgstats.available(self.urls["owner"])
        if not self.pg_stats:
            log("pg_stat_statements is not loaded: SQL counts are left out (see bench/README.md)")
        env = {
            "DATABASE_URL": self.urls["app"],
            "DATABASE_OWNER_URL": self.urls["owner"],
            "WORKER_DATABASE_URL": self.urls["worker"],
            "REDIS_URL": self.args.redis,
            "EVENTFLOW_JWT_SECRET": self.secret,
            "EVENTFLOW_JWT_AUDIENCE": AUDIENCE,
            "EVENTFLOW_METRICS_PUBLIC": "1",  # on loopback, for the bench only
        }
        if self.args.front:
            env["EVENTFLOW_TRUSTED_PROXIES"] = "1"  # as `eventflow serve` runs behind the front
        self.app_env = env  # the stream process (bench/stream.py) runs with it too
        # More than one instance stands for app machines behind a proxy: each its own gunicorn on
        # its own port (the next ones after --app-bind), all on the same database and Redis, and
        # together as many workers as one instance has (the machine's cores are shared).
        instances = self.args.instances
        if instances > 1:
            env["GUNICORN_WORKERS"] = str(instance_workers(instances))
        host, port = self.args.app_bind.rsplit(":", 1)
        self.apps = [
            servers.Gunicorn(
                f"app{i}" if instances > 1 else "app",
                self.source,
                "wsgi:app",
                f"{host}:{int(port) + i}",
                env | {"PROMETHEUS_MULTIPROC_DIR": str(self._fresh_dir(f"metrics{i}"))},
                self.workdir,
            )
            for i in range(instances)
        ]
        self.app = self.apps[0]
        self.floor = servers.Gunicorn("floor", self.source, "bench.floor:app", self.args.floor_bind, {}, self.workdir)
        self.servers = [*self.apps, self.floor]
        for app in self.apps:
            app.wait_ready("/healthz")
        self.floor.wait_ready("/floor")
        # Where clients connect: gunicorn itself, or with --front the production front before each
        # (one instance only: the command line refuses --front with --instances).
        self.app_urls, self.floor_url = [app.url for app in self.apps], self.floor.url
        if self.args.front:
            self.app_urls = [self._front("app-front", self.args.front_binds[0], self.app.bind, "/healthz")]
            self.floor_url = self._front("floor-front", self.args.front_binds[1], self.floor.bind, "/floor")
        self.app_url = self.app_urls[0]
        log(f"service at {', '.join(self.app_urls)}, floor at {self.floor_url}; logs in {self.workdir}")

    def _front(self, name, listen, upstream, ready_path):
        log_file = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as nginx
        nginx = front.start(listen, upstream, self.workdir / name, output=log_file, ready_path=ready_path)
        self.fronts.append((nginx, log_file))
        return f"http://{listen}"

    def _fresh_dir(self, name):
        path = self.workdir / name
        path.mkdir(exist_ok=True)
        return path

    def stop(self):
        for nginx, log_file in self.fronts:
            nginx.terminate()
            nginx.wait(timeout=10)
            log_file.close()
        for server in self.servers:
            server.stop()

    def seed(self, viewers, admins, present=0, extra=0):
        return database.seed_crowd(self.urls["owner"], self.secret, AUDIENCE, viewers, admins, present, extra)

    def server_pids(self):
        return [pid for app in self.apps for pid in (app.process.pid, *app.worker_pids())]

    # --- what the service offers -------------------------------------------------------------
    def status_of(self, path, token, webinar_id):
        request = urllib.request.Request(
            f"{self.app_url}/api/webinars/{webinar_id}/{path}", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def has_admin_stats(self, crowd):
        return self.status_of("stats?sections=access", crowd.admin_tokens[0], crowd.webinar_id) != 404

    def has_fallback(self, crowd):
        token = crowd.viewer_tokens[0]
        return all(self.status_of(path, token, crowd.webinar_id) != 404 for path in ("messages", "questions"))

    # --- the crowd ----------------------------------------------------------------------------
    def drive(self, crowd_seed, params, target=None):
        """Run the open-loop crowd against `target` ("service" or "floor"; default --crowd-target);
        return merged measurements, SQL delta and CPU figures. With several instances the crowd is
        split between them by generator shard, as a proxy would spread its clients (at least one
        shard per instance)."""
        shards = max(self.args.generators, len(self.apps))
        to_floor = (target or self.args.crowd_target) == "floor"
        if not to_floor and crowd_seed.viewer_tokens:
            # The viewers seeded as watching have polled for minutes: the webinar's live list has
            # been built since. Without this one poll the whole crowd's first polls would find it
            # cold and wait together for its first build, a moment no such crowd ever meets.
            self.status_of("stats/access", crowd_seed.viewer_tokens[0], crowd_seed.webinar_id)
        start_at = time.time() + 2.0 + 0.2 * shards
        plans = []
        for shard in range(shards):
            plan = {
                "base_url": self.floor_url if to_floor else self.app_urls[shard % len(self.app_urls)],
                "webinar_id": crowd_seed.webinar_id,
                "viewer_tokens": {i: crowd_seed.viewer_tokens[i] for i in range(shard, params.viewers, shards)},
                "viewer_sessions": {i: crowd_seed.viewer_sessions[i] for i in range(shard, params.viewers, shards)},
                "admin_tokens": {i: crowd_seed.admin_tokens[i] for i in range(shard, params.admins, shards)},
                "crowd": asdict(params),
                "shard": shard,
                "shards": shards,
                "connections": max(1, self.args.connections // shards),
                "timeout": self.args.timeout,
                "start_at": start_at,
            }
            path = self.workdir / f"plan-{shard}.json"
            path.write_text(json.dumps(plan))
            plans.append((path, self.workdir / f"out-{shard}.json"))
        before_sql = pgstats.snapshot(self.urls["owner"]) if self.pg_stats else {}
        before_transactions = pgstats.transactions(self.urls["owner"])
        before_cpu = _children_cpu(), servers.cpu_seconds(self.server_pids()), servers.machine_busy_seconds()
        procs = [
            subprocess.Popen([sys.executable, "-m", "bench.crowd", str(plan), str(out)], cwd=REPO, preexec_fn=_ahead)
            for plan, out in plans
        ]
        for proc in procs:
            proc.wait(timeout=params.duration + 120)
            if proc.returncode:
                raise RuntimeError(f"generator exited with {proc.returncode}")
        after_cpu = _children_cpu(), servers.cpu_seconds(self.server_pids()), servers.machine_busy_seconds()
        after_sql = pgstats.snapshot(self.urls["owner"]) if self.pg_stats else {}
        time.sleep(1.5)  # the backends' last counts reach pg_stat_database
        transactions = pgstats.transactions(self.urls["owner"]) - before_transactions
        shards_out = [json.loads(out.read_text()) for _, out in plans]
        lag = sorted(v for shard in shards_out for v in shard["lag_ms"])
        wall = after_cpu[2][1] - before_cpu[2][1]
        return {
            "measured": report.merge_shards(shards_out),
            "sql": pgstats.delta(before_sql, after_sql),
            "transactions": transactions,
            "generator_cpu": after_cpu[0] - before_cpu[0],
            "server_cpu": after_cpu[1] - before_cpu[1],
            "machine_busy": (after_cpu[2][0] - before_cpu[2][0]) / wall if wall else float("nan"),
            "lag_p99": report.percentile(lag, 0.99),
            "lag_max": lag[-1] if lag else float("nan"),
        }

    # --- closed-loop saturation ---------------------------------------------------------------
    def saturate(self, seconds, connections):
        if not saturate.wrk_available():
            log("wrk is not installed: skipping the saturation runs (apt-get install wrk)")
            return []
        crowd = self.seed(viewers=0, admins=0, extra=self.args.saturation_tokens)
        tokens_file = self.workdir / "saturation-tokens.txt"
        tokens_file.write_text("\n".join(crowd.extra_tokens) + "\n")
        results = []
        for label, url, method, body, etag in saturate.targets(self.app_url, self.floor_url, crowd.webinar_id):
            log(f"saturating {label} for {seconds} s")
            before = pgstats.snapshot(self.urls["owner"]) if self.pg_stats else {}
            result = saturate.run_wrk(url, method, tokens_file, body, etag, connections=connections, seconds=seconds)
            if self.pg_stats and not label.startswith("floor"):
                total = pgstats.summarise(pgstats.delta(before, pgstats.snapshot(self.urls["owner"])))
                result["sql_per_request"] = total["statements"] / max(1, sum(result["statuses"].values()))
            results.append((label, result))
        return results


def _ahead():
    """Run the generator ahead of the servers it measures: it stands for clients on other
    machines, and when the service's processes crowd it out of the shared cores, its late sends
    would count as the service's latency. Needs root (or CAP_SYS_NICE); otherwise unchanged."""
    try:
        os.nice(GENERATOR_NICENESS)
    except PermissionError:
        pass


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def instance_workers(instances):
    """gunicorn workers per instance when several share the machine: one instance's default
    (2 × cores, gunicorn.conf.py) split between them, unless GUNICORN_WORKERS says otherwise."""
    total = int(os.environ.get("GUNICORN_WORKERS", os.cpu_count() * 2))
    return max(1, total // instances)


def present_count(args, viewers):
    return round(viewers * (1.0 - args.arriving))


def crowd_params(args, viewers, fallback, admin_stats):
    arriving = viewers - present_count(args, viewers)
    ramp = args.ramp if args.ramp is not None else max(20.0, arriving / args.arrival_rate)
    return schedule.Crowd(
        viewers=viewers,
        present=present_count(args, viewers),
        admins=args.admins,
        duration=ramp + args.duration,
        ramp=ramp,
        fallback=fallback,
        posters=min(args.posters, viewers),
        leave_fraction=args.leave_fraction,
        admin_stats=admin_stats,
        seed=args.seed,
    )


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def settings_text(args, session):
    workers = os.environ.get("GUNICORN_WORKERS", f"{os.cpu_count() * 2} (2 × cores)")
    if args.instances > 1:
        workers = (
            f"{instance_workers(args.instances)} in each of {args.instances} instances, one crowd split between them"
        )
    threads = os.environ.get("GUNICORN_THREADS") or _default_in(session.source, "gunicorn.conf.py", GUNICORN_THREADS)
    pool = os.environ.get("EVENTFLOW_DB_POOL_MAX") or _default_in(session.source, "eventflow/config.py", POOL_MAX)
    return (
        f"- machine: {report.machine()}\n"
        f"- service: gunicorn -c gunicorn.conf.py (gthread, workers {workers}, threads {threads}), "
        f"pool {pool}/process, snapshot max age "
        f"{os.environ.get('EVENTFLOW_SNAPSHOT_MAX_AGE_SECONDS', '1')} s; PostgreSQL and Redis of the machine "
        f"({args.postgres.split('@')[-1]}/{args.database}, {args.redis}); PROMETHEUS_MULTIPROC_DIR set as in "
        "the Procfile; "
        f"{'behind the nginx front (deploy/nginx/eventflow.conf); ' if args.front else ''}"
        f"source: {args.ref or 'working tree'} "
        f"({_git_describe(args.ref)})\n"
        f"- generator: {max(args.generators, args.instances)} process(es), "
        "asyncio + uvloop + httptools (bench/http1.py), open loop, "
        f"{args.connections} keep-alive connections, timeout {args.timeout:.0f} s, "
        f"**on the same 2 cores as the service** (niceness {GENERATOR_NICENESS}); load average when the run "
        f"began: {session.loadavg}" + (FLOOR_TARGET_NOTE if args.crowd_target == "floor" else "")
    )


# Where the benchmarked source writes its defaults (the exported ref's, not the working tree's).
GUNICORN_THREADS = re.compile(r"""GUNICORN_THREADS", (\d+)""")
POOL_MAX = re.compile(r"db_pool_max: int = (\d+)")


def _default_in(source_dir, path, pattern):
    found = pattern.search((Path(source_dir) / path).read_text())
    return found.group(1) if found else "?"


def _git_describe(ref):
    out = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", ref or "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = "" if ref else " + uncommitted changes"
    return f"{out}{dirty}"
