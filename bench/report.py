"""Figures from raw measurements, and the markdown tables of bench/RESULTS.md."""

import math
import os
import platform
import subprocess

OK_STATUSES = frozenset({"200", "201", "204", "304"})


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def merge_shards(shards):
    """One {phase: {kind: {"latency": sorted list, "status": {code: n}}}} from all generator shards."""
    merged = {}
    for shard in shards:
        for key, values in shard["latency_ms"].items():
            phase, kind = key.split("|", 1)
            entry = merged.setdefault(phase, {}).setdefault(kind, {"latency": [], "status": {}})
            entry["latency"].extend(values)
            for code, count in shard["status"][key].items():
                entry["status"][code] = entry["status"].get(code, 0) + count
    for kinds in merged.values():
        for entry in kinds.values():
            entry["latency"].sort()
    return merged


def _errors(status):
    return {code: n for code, n in status.items() if code not in OK_STATUSES}


def summarise(kinds, seconds):
    """Per kind and overall: requests, rps, p50/p95/p99/max, errors by status."""
    rows = {}
    all_latency, all_status = [], {}
    for kind, entry in sorted(kinds.items()):
        lat = entry["latency"]
        rows[kind] = _row(lat, entry["status"], seconds)
        all_latency.extend(lat)
        for code, n in entry["status"].items():
            all_status[code] = all_status.get(code, 0) + n
    all_latency.sort()
    rows["all"] = _row(all_latency, all_status, seconds)
    return rows


def _row(latency, status, seconds):
    return {
        "requests": len(latency),
        "rps": len(latency) / seconds if seconds else float("nan"),
        "p50": percentile(latency, 0.50),
        "p95": percentile(latency, 0.95),
        "p99": percentile(latency, 0.99),
        "max": latency[-1] if latency else float("nan"),
        "errors": _errors(status),
        "status": status,
    }


def _fmt_errors(errors):
    return ", ".join(f"{code}×{n}" for code, n in sorted(errors.items())) or "0"


def latency_table(rows):
    lines = [
        "| endpoint | requests | rps | p50 ms | p95 ms | p99 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind, row in rows.items():
        name = f"**{kind}**" if kind == "all" else kind
        lines.append(
            f"| {name} | {row['requests']} | {row['rps']:.1f} | {row['p50']:.1f} | {row['p95']:.1f} | "
            f"{row['p99']:.1f} | {row['max']:.1f} | {_fmt_errors(row['errors'])} |"
        )
    return "\n".join(lines)


def sql_table(summary, requests, seconds, top_rows):
    per_request = summary["statements"] / requests if requests else float("nan")
    sql_only = summary["sql"] / requests if requests else float("nan")
    lines = [
        "| SQL statements per request (all, incl. BEGIN/COMMIT) | excl. BEGIN/COMMIT | live-list reads "
        "(snapshot rebuilds) | rebuilds/s |",
        "|---:|---:|---:|---:|",
        f"| {per_request:.3f} | {sql_only:.3f} | {summary['live_viewers']} | {summary['live_viewers'] / seconds:.2f} |",
        "",
        "| statement (eventflow_app, top 8 by calls) | calls | calls per request | mean ms |",
        "|---|---:|---:|---:|",
    ]
    for query, calls, total_ms in top_rows[:8]:
        text = query if len(query) <= 90 else query[:87] + "..."
        text = text.replace("|", "\\|")
        lines.append(f"| `{text}` | {calls} | {calls / requests:.3f} | {total_ms / calls:.3f} |")
    return "\n".join(lines)


def saturation_table(results):
    floors = [r["rps"] for label, r in results if label.startswith("floor")]
    floor = max(floors) if floors else float("nan")
    lines = [
        f"Framework floor = best floor run, {floor:.0f} rps.",
        "",
        "| endpoint (closed loop) | rps | ratio to floor | p50 ms | p99 ms | statuses | SQL stmts/req |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for label, r in results:
        statuses = ", ".join(f"{c}×{n}" for c, n in sorted(r["statuses"].items()))
        if r.get("socket_errors"):
            statuses += f"; socket errors: {r['socket_errors']}"
        sql = r.get("sql_per_request")
        sql_text = f"{sql:.2f}" if sql is not None else "-"
        lines.append(
            f"| {label} | {r['rps']:.0f} | {r['rps'] / floor:.2f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{statuses} | {sql_text} |"
        )
    return "\n".join(lines)


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    try:
        pg = subprocess.run(["pg_config", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pg = "PostgreSQL (pg_config not found)"
    return (
        f"{os.cpu_count()} × {cpu}, {mem_kb / 1024 / 1024:.0f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {pg}"
    )
