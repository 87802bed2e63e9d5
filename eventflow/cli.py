"""The `eventflow` console script (contract §4): a Flask CLI group with the app's commands."""

import json
import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup

from eventflow import auth, dbcheck, embedded, front, migrations, seed, serve
from eventflow.pages import links

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
    """Exit non-zero, naming each problem, if a security invariant of the schema is broken or a
    foreign key has no covering index; name each warning (a cost, not a hole) either way."""
    for warning in dbcheck.find_warnings(_owner_url()):
        click.echo(f"warning: {warning}", err=True)
    problems = dbcheck.find_problems(_owner_url())
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(
        "ok: row-level security enabled, forced and with policies on every table; roles sound; "
        "every foreign key indexed"
    )


@seed_cli.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print ids, ready tokens and page links as one JSON object.")
@click.option("--base-url", default=links.DEFAULT_BASE_URL, show_default=True, help="Where the service answers.")
def seed_demo(as_json, base_url):
    """Fill every table with realistic rows for two agencies with two clients each, and print
    ready links to a participant's watch page and each admin's console."""
    settings = _settings()
    made = seed.seed_demo(_owner_url(), settings.jwt_secret, settings.jwt_audience)
    ready = links.demo_links(made, base_url.rstrip("/"))
    if as_json:
        click.echo(json.dumps(made, default=str))
    else:
        webinars = sum(len(c["webinars"]) for a in made["agencies"] for c in a["clients"])
        click.echo(f"seeded {len(made['agencies'])} agencies and {webinars} webinars")
        _echo_links(ready)


def _echo_links(ready):
    click.echo("open (tokens valid for 24 h; each link signs in only the browser tab it is opened in):")
    for who, url in ready:
        click.echo(f"  {who}:\n    {url}")


@click.command("token")
@click.option("--role", required=True, type=click.Choice(sorted(auth.EVERYONE)))
@click.option("--sub", required=True, type=click.UUID)
@click.option("--client-id", type=click.UUID)
@click.option("--agency-id", type=click.UUID)
@click.option("--webinar-id", type=click.UUID, help="participant: the one webinar the token enters")
@click.option("--name")
@click.option("--ttl", type=click.IntRange(1, 30 * 86400), default=3600, show_default=True)
def token(role, sub, client_id, agency_id, webinar_id, name, ttl):
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
            webinar_id=webinar_id if role == auth.PARTICIPANT else None,
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
        made = seed.seed_demo(_owner_url(), settings.jwt_secret, settings.jwt_audience)
        click.echo("seeded the demo data")
        _echo_links(links.demo_links(made, f"http://{bind}"))
    else:
        click.echo("the database has data: `eventflow seed demo` adds a demo tenant tree and prints links to it")
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
