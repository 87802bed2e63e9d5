"""Ops commands for the background side, part of the `eventflow` CLI:

eventflow worker-health     exit 1 (and say why) unless workers and the schedule are healthy
eventflow rollup run JOB    run a rollup now, in this process, as eventflow_worker
"""

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from jobs import access_logs, attendance, health, marketing, presence
from jobs.worker import connect

# Which options each job understands: --webinar narrows the two per-webinar rollups, --full
# recomputes an incremental one from the beginning.
ACCEPTS_WEBINAR = {"access_logs", "attendance"}
ACCEPTS_FULL = {"access_logs", "attendance", "marketing"}
RUNNERS = {
    "access_logs": lambda conn, settings, full, webinars: access_logs.run(conn, settings, full, webinars or None),
    "attendance": lambda conn, settings, full, webinars: attendance.run(conn, settings, full, webinars or None),
    "marketing": lambda conn, settings, full, webinars: marketing.run(conn, settings, full),
    "presence": lambda conn, settings, full, webinars: presence.run(conn, settings.presence_timeout_seconds),
}

rollup_cli = AppGroup("rollup", help="Run the rollup jobs by hand (they normally run on the schedule).")


@click.command("worker-health")
@click.option("--max-queue-depth", type=int, default=health.MAX_QUEUE_DEPTH, show_default=True)
@click.option("--max-wait-seconds", type=int, default=health.MAX_WAIT_SECONDS, show_default=True)
@click.option("--no-schedule", is_flag=True, help="Do not require a live rq cron scheduler.")
@with_appcontext
def worker_health(max_queue_depth, max_wait_seconds, no_schedule):
    """Print the workers' health as JSON; exit 1 if a check fails."""
    healthy, report = health.check(
        current_app.extensions["eventflow.redis"], max_queue_depth, max_wait_seconds, schedule=not no_schedule
    )
    click.echo(json.dumps(report))
    sys.exit(0 if healthy else 1)


@rollup_cli.command("run")
@click.argument("job", type=click.Choice(sorted(RUNNERS)))
@click.option("--full", is_flag=True, help="Recompute everything, not only what changed since the last run.")
@click.option("--webinar", "webinars", multiple=True, type=click.UUID, help="Recompute only this webinar (repeatable).")
def rollup_run(job, full, webinars):
    """Run one job now and print what it did."""
    if webinars and job not in ACCEPTS_WEBINAR:
        raise click.UsageError(f"{job} covers every webinar: --webinar does not apply")
    if full and job not in ACCEPTS_FULL:
        raise click.UsageError(f"{job} is not incremental: --full does not apply")
    settings = current_app.extensions["eventflow.settings"]
    with connect({"WORKER_DATABASE_URL": settings.worker_database_url or ""}) as conn:
        click.echo(json.dumps(RUNNERS[job](conn, settings, full, list(webinars)), default=str))


def init_app(app):
    app.cli.add_command(worker_health)
    app.cli.add_command(rollup_cli)
