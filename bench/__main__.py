"""`python -m bench run|capacity`: see bench/README.md."""

import argparse
import sys
import tempfile
from pathlib import Path

from bench import harness, pgstats, presence_cost, profile, report, schedule, serving, stream
from bench.harness import log

CAPACITY_P99_MS = 50.0


# Enough viewers that no one reaches the 60/min limit over both stats/access runs, few enough
# that each worker has verified most of them in the first seconds, as in a real crowd, where a
# viewer's token is verified once per worker and then polls for an hour.
SATURATION_TOKENS = 5000
SATURATION_TOKENS_HELP = "distinct viewer tokens the closed-loop runs pick from at random"


def _common(parser):
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a superuser URL of the PostgreSQL server to create the database on",
    )
    parser.add_argument("--database", default="eventflow_bench", help="dropped and created again")
    parser.add_argument(
        "--reuse-database",
        action="store_true",
        help="use --database as it is (migrated, not dropped): e.g. a Citus cluster's (deploy/citus/)",
    )
    parser.add_argument(
        "--instances", type=int, default=1, help="app instances (gunicorn on consecutive ports), one crowd split"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--ref", default=None, help="benchmark this git ref (exported) instead of the working tree")
    parser.add_argument("--app-bind", default="127.0.0.1:18000")
    parser.add_argument("--floor-bind", default="127.0.0.1:18001")
    parser.add_argument("--admins", type=int, default=5)
    parser.add_argument("--posters", type=int, default=10, help="fallback: viewers who also post")
    parser.add_argument("--leave-fraction", type=float, default=0.1)
    parser.add_argument(
        "--arriving",
        type=float,
        default=0.2,
        help="share of viewers who arrive during the run; the rest are watching already",
    )
    parser.add_argument("--ramp", type=float, default=None, help="arrival window, s (default: N / arrival rate)")
    parser.add_argument("--arrival-rate", type=float, default=250.0, help="arrivals per second for the default ramp")
    parser.add_argument("--generators", type=int, default=1, help="generator processes")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections, all generators")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--crowd-target",
        choices=("service", "floor"),
        default="service",
        help="floor: drive the crowd against the framework floor (every path a constant 200), "
        "to see what gunicorn + Flask alone carry in this pattern",
    )
    parser.add_argument(
        "--front",
        action="store_true",
        help="clients connect through the production front (nginx, deploy/nginx/eventflow.conf) before "
        "the service and the floor, as in production",
    )
    parser.add_argument(
        "--front-binds",
        nargs=2,
        default=("127.0.0.1:18002", "127.0.0.1:18003"),
        metavar=("APP", "FLOOR"),
        help="where the fronts listen (with --front)",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown here")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="one crowd of N viewers, then the saturation runs")
    _common(run)
    run.add_argument("--viewers", type=int, default=1000)
    run.add_argument("--fallback", action="store_true", help="realtime is down: poll messages and questions too")
    run.add_argument("--duration", type=float, default=60.0, help="steady seconds after the ramp")
    run.add_argument("--saturate-seconds", type=int, default=10, help="0 skips the closed-loop runs")
    run.add_argument("--saturate-connections", type=int, default=32)
    run.add_argument("--saturation-tokens", type=int, default=SATURATION_TOKENS, help=SATURATION_TOKENS_HELP)
    compare = commands.add_parser(
        "instances", help="the same crowd against one app instance, then against several, back to back"
    )
    _common(compare)
    compare.add_argument("--viewers", type=int, default=1000)
    compare.add_argument("--fallback", action="store_true", help="realtime is down: poll messages and questions too")
    compare.add_argument("--duration", type=float, default=60.0, help="steady seconds after the ramp")
    compare.add_argument("--compare", type=int, default=2, help="the number of instances to compare with one")
    capacity = commands.add_parser("capacity", help="the largest N holding p99 <= 50 ms without errors")
    _common(capacity)
    capacity.add_argument("--modes", default="normal,fallback")
    capacity.add_argument("--start", type=int, default=1000)
    capacity.add_argument("--max", type=int, default=32000)
    capacity.add_argument("--refine", type=int, default=2, help="bisection steps after the first failure")
    capacity.add_argument("--duration", type=float, default=30.0, help="steady seconds after the ramp, per step")
    storm = commands.add_parser("storm", help="the join storm: N viewers arriving within a minute, service and floor")
    _common(storm)
    storm.add_argument("--viewers", default="1000,2000", help="comma-separated N, one storm each")
    storm.add_argument("--arrivals", type=float, default=60.0, help="the window the N arrive in, uniformly, s")
    storm.add_argument("--duration", type=float, default=15.0, help="polling seconds after the last arrival")
    storm.add_argument(
        "--targets", default="service,floor", help="whom each storm is sent to, in order (service, floor or both)"
    )
    cost = commands.add_parser("presence", help="what one presence write costs PostgreSQL, per entry request")
    _common(cost)
    cost.add_argument("--writes", type=int, default=300, help="requests of each kind, one viewer each")
    prof = commands.add_parser("profile", help="py-spy over the workers while wrk saturates the hot endpoints")
    _common(prof)
    prof.add_argument("--seconds", type=int, default=20)
    prof.add_argument("--rate", type=int, default=250, help="samples per second per process")
    prof.add_argument("--saturation-tokens", type=int, default=SATURATION_TOKENS, help=SATURATION_TOKENS_HELP)
    prof.add_argument("--wall", action="store_true", help="sample idle threads too (wall time, not CPU)")
    prof.add_argument("--out-dir", type=Path, default=Path("/tmp/eventflow-bench-profile"))
    live = commands.add_parser("stream", help="N event streams held while chat, Q&A and presence change")
    _common(live)
    live.add_argument("--streams", type=int, default=10000)
    live.add_argument("--stream-bind", default="127.0.0.1:18004")
    live.add_argument("--duration", type=float, default=30.0, help="measured seconds once every stream is open")
    serve = commands.add_parser("serving", help="the serving models under slow clients, on the framework floor")
    serve.add_argument("--first-port", type=int, default=18100, help="the servers take ports from here up")
    serve.add_argument("--slow-headers", type=int, default=300)
    serve.add_argument("--slow-bodies", type=int, default=300)
    serve.add_argument("--probe-seconds", type=float, default=6.0)
    serve.add_argument("--seconds", type=int, default=10, help="closed-loop throughput run")
    serve.add_argument("--rounds", type=int, default=3, help="throughput runs per model, alternating")
    serve.add_argument("--connections", type=int, default=32)
    serve.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "serving":
        return _print(serving.run(args, tempfile.mkdtemp(prefix="eventflow-serving-")), args.out)
    if args.front and (args.instances > 1 or args.command == "instances"):
        parser.error("--front stands before one instance: leave out --instances or --front")
    if args.command == "instances":
        return compare_instances(args)

    session = harness.Session(args)
    try:
        session.start()
        if args.command == "profile":
            text = "\n".join(
                [
                    "## Profile",
                    "",
                    harness.settings_text(args, session),
                    "",
                    profile.profile(session, args.seconds, args.rate, args.out_dir, args.wall),
                ]
            )
        elif args.command == "stream":
            text = stream.run(session, args)
        else:
            run = {"run": run_crowd, "capacity": run_capacity, "storm": run_storm, "presence": run_presence}[
                args.command
            ]
            text = run(session, args)
    finally:
        session.stop()
    return _print(text, args.out)


def _print(text, out):
    print(text)
    if out:
        out.write_text(text + "\n")
    return 0


def compare_instances(args):
    """One crowd against one instance, then the same crowd (same seed) split between
    `--compare` instances: each in a fresh session, one after the other, so that both meet the
    same machine (which others may share: read them side by side, not against older runs)."""
    sections = [f"## One instance vs {args.compare}, the same crowd, back to back", ""]
    for instances in (1, args.compare):
        args.instances = instances
        args.saturate_seconds = 0
        session = harness.Session(args)
        try:
            session.start()
            text = run_crowd(session, args)
        finally:
            session.stop()
        sections += [text.replace("## Crowd:", f"### {instances} instance{'s' if instances > 1 else ''}:", 1), ""]
    text = "\n".join(sections)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


def run_crowd(session, args):
    crowd = session.seed(args.viewers, args.admins, harness.present_count(args, args.viewers))
    fallback = args.fallback
    if fallback and not session.has_fallback(crowd):
        sys.exit("fallback mode: GET messages / questions answer 404 here; those endpoints do not exist yet")
    admin_stats = session.has_admin_stats(crowd)
    params = harness.crowd_params(args, args.viewers, fallback, admin_stats)
    log(
        f"crowd of {args.viewers} viewers + {args.admins} admins, ramp {params.ramp:.0f} s, "
        f"total {params.duration:.0f} s, fallback {fallback}, admin stats {'on' if admin_stats else 'absent (404)'}"
    )
    result = session.drive(crowd, params)
    lines = [
        f"## Crowd: {args.viewers} viewers{' (fallback)' if fallback else ''}",
        "",
        harness.settings_text(args, session),
        "",
    ]
    lines += crowd_sections(result, params, args.viewers)
    if args.saturate_seconds:
        sat = session.saturate(args.saturate_seconds, args.saturate_connections)
        if sat:
            lines += [
                "",
                f"### Saturation (closed loop, wrk -t1 -c{args.saturate_connections} "
                f"-d{args.saturate_seconds}s, random tokens of {args.saturation_tokens} viewers, one endpoint "
                "at a time, same gunicorn settings)",
                "",
                report.saturation_table(sat),
            ]
    return "\n".join(lines)


def crowd_sections(result, params, viewers):
    measured = result["measured"]
    steady_seconds = params.duration - params.ramp
    steady = report.summarise(measured.get("steady", {}), steady_seconds)
    whole = _whole_run(measured, params.duration)
    requests = whole["all"]["requests"]
    lines = [
        f"- {viewers} viewers: {params.present} watching from the start (seeded sessions, timers at random "
        f"phases), {viewers - params.present} arriving over {params.ramp:.0f} s, then {steady_seconds:.0f} s "
        "steady; "
        f"{params.leave_fraction:.0%} leave once (exit) and most rejoin; {params.admins} admins"
        f"{'' if params.admin_stats else ' (GET /stats absent: 404, not polled)'}",
        f"- CPU: machine {result['machine_busy']:.0%} busy; service {result['server_cpu']:.1f} s, "
        f"generator {result['generator_cpu']:.1f} s ({result['generator_cpu'] / params.duration:.0%} of one core); "
        f"generator dispatch lag p99 {result['lag_p99']:.1f} ms, max {result['lag_max']:.1f} ms",
        _transactions_line(result, whole),
        "",
        f"### Steady state ({steady_seconds:.0f} s after the ramp): latency from the scheduled send time",
        "",
        report.latency_table(steady),
        "",
        f"### Whole run incl. arrivals ({params.duration:.0f} s)",
        "",
        report.latency_table(whole),
    ]
    if result["sql"]:
        summary = pgstats.summarise(result["sql"])
        lines += [
            "",
            "### SQL (pg_stat_statements delta over the whole run / all requests)",
            "",
            report.sql_table(summary, requests, params.duration, result["sql"]),
        ]
        chat = _chat_reads_line(summary, whole)
        if chat:
            lines += ["", chat]
    result["verdict"] = whole["all"]
    return lines


POLLS = (schedule.MESSAGES, schedule.QUESTIONS)
CHANGES = (schedule.POST_MESSAGE, schedule.POST_QUESTION)
WRITES = (schedule.REGISTER, schedule.TRACK, schedule.TRACK_REFRESH, schedule.PING, schedule.FIRST_PING, schedule.EXIT)


def _transactions_line(result, whole):
    """PostgreSQL transactions over the run (pg_stat_database). Every write takes one; the rest are
    reads (snapshot rebuilds, lookups, the dashboard, chat polls): in fallback mode, all of them
    charged to the chat polls and to the posted changes gives an upper bound of each."""
    transactions = result["transactions"]
    requests = whole["all"]["requests"]
    line = (
        f"- PostgreSQL transactions (pg_stat_database): {transactions}, {transactions / max(1, requests):.3f}/request"
    )
    polls = sum(whole[kind]["requests"] for kind in POLLS if kind in whole)
    changes = sum(whole[kind]["requests"] for kind in CHANGES if kind in whole)
    if polls and changes:
        reads = max(0, transactions - changes - sum(whole[kind]["requests"] for kind in WRITES if kind in whole))
        line += (
            f"; reads (all but the writes) {reads}: at most {reads / polls:.4f} per chat poll ({polls} polls), "
            f"{reads / changes:.2f} per posted change ({changes} changes)"
        )
    return line


def _answered(whole, kinds):
    """Requests of these kinds that were answered, not refused (a refused post changed nothing, a
    refused poll read nothing)."""
    return sum(whole[kind]["requests"] - sum(whole[kind]["errors"].values()) for kind in kinds if kind in whole)


def _chat_reads_line(summary, whole):
    """What the chat polls cost PostgreSQL, counted from pg_stat_statements (fallback mode)."""
    polls, changes = _answered(whole, POLLS), _answered(whole, CHANGES)
    if not polls or not changes:
        return None
    refills, direct = summary["window_refills"], summary["direct_chat_polls"]
    reads = refills + direct
    return (
        f"- Chat reads (pg_stat_statements): {refills} window refills + {direct} polls sent to PostgreSQL = "
        f"**{reads / changes:.2f} read transactions per posted change** ({changes} changes made); "
        f"{summary['feed_reads']} statements reading a feed for {polls} chat polls answered = "
        f"**{summary['feed_reads'] / polls:.4f} per poll**"
    )


def _whole_run(measured, seconds):
    kinds = {}
    for phase in measured.values():
        for kind, entry in phase.items():
            target = kinds.setdefault(kind, {"latency": [], "status": {}})
            target["latency"].extend(entry["latency"])
            for code, n in entry["status"].items():
                target["status"][code] = target["status"].get(code, 0) + n
    for entry in kinds.values():
        entry["latency"].sort()
    return report.summarise(kinds, seconds)


def run_capacity(session, args):
    lines = [
        "## Capacity: largest N with p99 ≤ 50 ms and no errors (whole run, arrivals included)",
        "",
        harness.settings_text(args, session),
        "",
    ]
    for mode in args.modes.split(","):
        fallback = mode == "fallback"
        steps, best = search(session, args, fallback)
        lines += [
            f"### {mode}: {best if best else 'below ' + str(args.start)} viewers",
            "",
            "| N | requests | rps | p50 ms | p99 ms | worst endpoint p99 | errors | gen. lag p99 ms | "
            "SQL/req | machine busy | verdict |",
            "|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---|",
        ]
        lines += steps
        lines.append("")
    return "\n".join(lines)


def run_presence(session, args):
    return "\n".join(
        [
            f"## Presence writes: {args.writes} of each entry request, one at a time, distinct viewers",
            "",
            harness.settings_text(args, session),
            "",
            presence_cost.table(presence_cost.measure(session, args.writes)),
        ]
    )


STORM_P99_MS = 250.0


def run_storm(session, args):
    """Each N arrives uniformly within --arrivals seconds, every viewer a newcomer entering as the
    reference client does (register, access/track, first presence/ping, first stats/access), then
    polling; the same timetable is sent to the service and to the framework floor."""
    lines = [
        f"## Join storm: N viewers arriving uniformly within {args.arrivals:.0f} s, then {args.duration:.0f} s "
        f"of polling (pass: p99 ≤ {STORM_P99_MS:.0f} ms and no errors, whole run)",
        "",
        harness.settings_text(args, session),
        "",
        "| N | target | requests | p50 ms | p99 ms | entry p99 ms (register / track / ping / stats/access) | "
        "errors | SQL/req | machine busy | verdict |",
        "|---:|---|---:|---:|---:|---|---|---:|---:|---|",
    ]
    for viewers in (int(n) for n in args.viewers.split(",")):
        seeded = session.seed(0, args.admins, extra=viewers)
        seeded.viewer_tokens, seeded.viewer_sessions = seeded.extra_tokens, [None] * viewers
        params = schedule.Crowd(
            viewers=viewers,
            admins=args.admins,
            duration=args.arrivals + args.duration,
            ramp=args.arrivals,
            leave_fraction=0.0,
            admin_stats=session.has_admin_stats(seeded),
            seed=args.seed,
            join_storm=True,
        )
        for target in args.targets.split(","):
            log(f"join storm: {viewers} viewers against the {target}")
            result = session.drive(seeded, params, target)
            whole = _whole_run(result["measured"], params.duration)
            total = whole["all"]
            entry = " / ".join(
                f"{whole[kind]['p99']:.0f}" if kind in whole else "-"
                for kind in (schedule.REGISTER, schedule.TRACK, schedule.FIRST_PING, schedule.FIRST_STATS_ACCESS)
            )
            sql = pgstats.summarise(result["sql"])["statements"] / max(1, total["requests"]) if result["sql"] else 0
            errors = ", ".join(f"{c}×{n}" for c, n in sorted(total["errors"].items())) or "0"
            ok = total["p99"] <= STORM_P99_MS and not total["errors"]
            lines.append(
                f"| {viewers} | {target} | {total['requests']} | {total['p50']:.1f} | {total['p99']:.1f} | {entry} | "
                f"{errors} | {sql if target == 'service' else 0:.2f} | {result['machine_busy']:.0%} | "
                f"{'pass' if ok else 'FAIL'} |"
            )
            log(lines[-1])
    return "\n".join(lines)


def search(session, args, fallback):
    """Double N from --start until a step fails, then bisect --refine times."""
    rows, passed, failed = [], None, None
    n = args.start
    while n and n <= args.max:
        ok, row = step(session, args, n, fallback)
        rows.append(row)
        if not ok:
            failed = n
            break
        passed = n
        n *= 2
    for _ in range(args.refine if failed else 0):
        low = passed or 0
        n = round((low + failed) / 2 / 100) * 100
        if n <= low or n >= failed:
            break
        ok, row = step(session, args, n, fallback)
        rows.append(row)
        passed, failed = (n, failed) if ok else (passed, n)
    return rows, passed


def step(session, args, viewers, fallback):
    crowd = session.seed(viewers, args.admins, harness.present_count(args, viewers))
    if fallback and not session.has_fallback(crowd):
        sys.exit("fallback mode: GET messages / questions answer 404 here; those endpoints do not exist yet")
    params = harness.crowd_params(args, viewers, fallback, session.has_admin_stats(crowd))
    log(f"capacity step: {viewers} viewers{' (fallback)' if fallback else ''}, {params.duration:.0f} s")
    result = session.drive(crowd, params)
    crowd_sections(result, params, viewers)
    total = result["verdict"]
    whole = _whole_run(result["measured"], params.duration)
    worst = max((k for k in whole if k != "all"), key=lambda k: whole[k]["p99"])
    ok = total["p99"] <= CAPACITY_P99_MS and not total["errors"]

    sql = pgstats.summarise(result["sql"])["statements"] / max(1, total["requests"]) if result["sql"] else float("nan")
    errors = ", ".join(f"{c}×{n}" for c, n in sorted(total["errors"].items())) or "0"
    row = (
        f"| {viewers} | {total['requests']} | {total['rps']:.0f} | {total['p50']:.1f} | {total['p99']:.1f} | "
        f"{worst} {whole[worst]['p99']:.1f} | {errors} | {result['lag_p99']:.1f} | {sql:.2f} | "
        f"{result['machine_busy']:.0%} | {'pass' if ok else 'FAIL'} |"
    )
    log(row)
    return ok, row


if __name__ == "__main__":
    sys.exit(main())
