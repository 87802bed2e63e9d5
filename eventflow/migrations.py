"""`db upgrade`: ordered plain-SQL migrations, then every function and policy file re-applied,
then, on Citus, the tables distributed.

Each migration runs in its own transaction and is recorded in schema_migrations; the function
files (`create or replace`: stored procedures and trigger functions, which a DBA re-applies) and
the policy files are re-applied together in one transaction, so there is never a moment with a
table stripped of its policies. Where the citus extension exists, sql/citus/distribute.sql then
distributes what is not distributed yet. All run as the schema owner (DATABASE_OWNER_URL).

The policy files numbered 0x (the roles and the request-context helpers of the `app` schema)
reference no table, and migrations may call those helpers in function bodies: they are applied
first as well, so a fresh database can be migrated from nothing.
"""

from pathlib import Path

import psycopg
from psycopg.rows import tuple_row

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
FUNCTIONS_DIR = SQL_DIR / "functions"
POLICIES_DIR = SQL_DIR / "policies"
DISTRIBUTION_FILE = SQL_DIR / "citus" / "distribute.sql"

CREATE_LEDGER = """
create table if not exists schema_migrations (
    version     text primary key,
    applied_at  timestamptz not null default now()
)
"""
APPLIED_VERSIONS = "select version from schema_migrations"
RECORD_VERSION = "insert into schema_migrations (version) values (%s)"
HAS_CITUS = "select exists (select from pg_extension where extname = 'citus')"
# Serialises concurrent upgrades (two deploys at once) on one arbitrary, fixed key.
UPGRADE_LOCK = "select pg_advisory_xact_lock(7460201)"


def migration_files():
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def function_files():
    return sorted(FUNCTIONS_DIR.glob("*.sql"))


def policy_files():
    return sorted(POLICIES_DIR.glob("*.sql"))


def prerequisite_files():
    return sorted(POLICIES_DIR.glob("0[0-9]_*.sql"))


def upgrade(owner_url, log=print):
    """Apply pending migrations in order, then re-apply all policies. Returns the versions applied."""
    applied_now = []
    with psycopg.connect(owner_url) as conn:
        with conn.transaction():
            conn.execute(UPGRADE_LOCK)
            conn.execute(CREATE_LEDGER)
            for path in prerequisite_files():
                conn.execute(path.read_text())
        for path in migration_files():
            with conn.transaction():
                conn.execute(UPGRADE_LOCK)
                done = {row[0] for row in conn.execute(APPLIED_VERSIONS)}
                if path.stem in done:
                    continue
                conn.execute(path.read_text())
                conn.execute(RECORD_VERSION, (path.stem,))
            log(f"applied {path.name}")
            applied_now.append(path.stem)
        with conn.transaction():
            conn.execute(UPGRADE_LOCK)
            for path in function_files() + policy_files():
                conn.execute(path.read_text())
            citus = has_citus(conn)
        log(f"re-applied {len(function_files())} function files and {len(policy_files())} policy files")
        if citus:
            distribute(conn)
            log("citus: every table distributed or a reference table")
    return applied_now


def distribute(conn):
    """Distribute, in one transaction, every table that is not distributed yet."""
    with conn.transaction():
        conn.execute(UPGRADE_LOCK)
        conn.execute(DISTRIBUTION_FILE.read_text())


def has_citus(conn):
    """Whether `conn`'s database has the citus extension (any row factory)."""
    return conn.cursor(row_factory=tuple_row).execute(HAS_CITUS).fetchone()[0]
