"""The `eventflow` console script (contract §4): a Flask CLI group with the app's commands."""

import json
import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup

from eventflow import auth, dbcheck, embedded, front, migrations, seed, serve

db_cli = AppGroup("db", help="Schema migrations and security checks (as the schema owner).")
seed_cli = AppGroup("seed", help="Demo data.")


def _settings():
    return current_app.extensions["eventflow.settings"]


def _owner_url():
    url = _settings().database_owner_url
    if not url:
        raise click.ClickException("DATABASE_OWNER_URL must be set to run this as the schema owner")
    return url


@db_cli.command("upgrade")
def db_upgrade():
    """Apply pending migrations in order, re-apply every policy file, create missing roles."""
    applied = migrations.upgrade(_owner_url(), log=click.echo)
    click.echo(f"database is up to date ({len(applied)} migrations applied now)")


@db_cli.command("check")
def db_check():
    """Exit non-zero, naming each problem, if a security invariant of the schema is broken."""
    problems = dbcheck.find_problems(_owner_url())
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo("ok: row-level security enabled, forced and with policies on every table; roles sound")


@seed_cli.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print ids and ready tokens as one JSON object.")
def seed_demo(as_json):
    """Fill every table with realistic rows for two agencies with two clients each."""
    settings = _settings()
    made = seed.seed_demo(_owner_url(), settings.jwt_secret, settings.jwt_audience)
    if as_json:
        click.echo(json.dumps(made, default=str))
    else:
        webinars = sum(len(c["webinars"]) for a in made["agencies"] for c in a["clients"])
        click.echo(f"seeded {len(made['agencies'])} agencies and {webinars} webinars")


@click.command("token")
@click.option("--role", required=True, type=click.Choice(sorted(auth.EVERYONE)))
@click.option("--sub", required=True, type=click.UUID)
@click.option("--client-id", type=click.UUID)
@click.option("--agency-id", type=click.UUID)
@click.option("--name")
@click.option("--ttl", type=click.IntRange(1, 30 * 86400), default=3600, show_default=True)
def token(role, sub, client_id, agency_id, name, ttl):
    """Print a signed access token."""
    if role == auth.CLIENT_ADMIN and not client_id:
        raise click.UsageError("a client_admin token needs --client-id")
    if role == auth.AGENCY_ADMIN and not agency_id:
        raise click.UsageError("an agency_admin token needs --agency-id")
    settings = _settings()
    click.echo(
        auth.issue(
            settings.jwt_secret,
            settings.jwt_audience,
            role=role,
            sub=sub,
            client_id=client_id if role == auth.CLIENT_ADMIN else None,
            agency_id=agency_id if role == auth.AGENCY_ADMIN else None,
            name=name,
            ttl=ttl,
        )
    )


@click.command("serve")
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="Where clients connect.")
@click.option("--no-front", is_flag=True, help="Serve with gunicorn alone on --bind, without the nginx front (README).")
def serve_command(bind, no_front):
    """Run the whole service as production does: migrate, seed the demo into an empty database,
    then the nginx front before gunicorn, an rq worker and the rq cron schedule."""
    settings = _settings()
    migrations.upgrade(_owner_url(), log=click.echo)
    if seed.is_empty(_owner_url()):
        seed.seed_demo(_owner_url(), settings.jwt_secret, settings.jwt_audience)
        click.echo("seeded the demo data (eventflow seed demo --json makes more, with tokens)")
    sys.exit(serve.run(settings, bind, echo=click.echo, with_front=not no_front))


@click.command("stop-embedded")
def stop_embedded():
    """Stop the embedded PostgreSQL and Redis of this checkout; their data stays in the state
    directory (delete it to start over)."""
    services = embedded.EmbeddedServices(_settings().state_dir)
    services.start_postgres()  # finds the running server, to get a handle on it
    services.stop()
    click.echo(f"stopped the embedded servers under {services.state_dir}")


def init_app(app):
    for command in (db_cli, seed_cli, token, serve_command, stop_embedded):
        app.cli.add_command(command)


@click.command("front")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, help="Where clients connect.")
@click.option(
    "--upstream", default="127.0.0.1:8000", show_default=True, help="gunicorn's bind (host:port or unix:/path)."
)
@click.option(
    "--prefix",
    default=".eventflow/front",
    show_default=True,
    help="nginx's private directory: the filled-in configuration, pid file and temporary files.",
)
def front_command(listen, upstream, prefix):
    """Run the production front (Debian's nginx with deploy/nginx/eventflow.conf) in the
    foreground, before gunicorn. Needs no app, database or Redis."""
    argv = front.command(listen, upstream, prefix)
    os.execv(argv[0], argv)


def _create_app():
    from eventflow import create_app

    return create_app()


def main():
    group = FlaskGroup(create_app=_create_app, add_version_option=False, help=__doc__)
    group.add_command(front_command)
    group()
