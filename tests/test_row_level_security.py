"""Row-level security, proven from the catalog against the real policies, as eventflow_app.

Tables are found by querying the catalog, so a new table is covered without anyone adding it
here. The victim is everything of one agency of the demo seed; the attackers are a participant
of another webinar, a client admin of another client, an agency admin of another agency, and a
transaction with no context at all.
"""

import uuid

import psycopg
import pytest

from eventflow import db
from eventflow.seed import seed_demo

TENANT_TABLES = """
select c.relname
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind = 'r'
  and exists (select from pg_attribute a
              where a.attrelid = c.oid and a.attname in ('client_id', 'agency_id') and not a.attisdropped)
order by 1
"""
# Every table of every application schema but the migration ledger: the tenant tables, those
# reaching a tenant through a parent (registrations through webinars, note_comments through
# notes, agencies by id), and the jobs' own bookkeeping.
GUARDED_TABLES = """
select format('%I.%I', n.nspname, c.relname) as relname
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%' and c.relkind = 'r'
  and (n.nspname, c.relname) <> ('public', 'schema_migrations')
order by 1
"""
COLUMNS = """
select attname from pg_attribute
where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum
"""


def _catalog_tables(owner, query):
    return [row["relname"] for row in owner.execute(query)]


@pytest.fixture(scope="module")
def demo(services, settings):
    return seed_demo(services["owner_url"], settings.jwt_secret, settings.jwt_audience)


def _columns(owner, table):
    return [row["attname"] for row in owner.execute(COLUMNS, (table,))]


def _victim_filter(columns, table):
    """SQL selecting the rows of the victim agency, from the columns a table has.

    It names the victim's ids literally (see `_victim_ids`): a sub-select on clients or webinars
    would itself be filtered by the attacker's policies and prove nothing."""
    if "client_id" in columns:
        return "client_id = any(%(clients)s)"
    if "agency_id" in columns:
        return "agency_id = %(agency)s"
    if "webinar_id" in columns:
        return "webinar_id = any(%(webinars)s)"
    if "note_id" in columns:
        return "note_id = any(%(notes)s)"
    if table == "public.agencies":
        return "id = %(agency)s"
    if not table.startswith("public."):
        return None  # the jobs' bookkeeping: see test_bookkeeping_tables_are_closed_to_the_app
    raise AssertionError(f"no way to find the tenant of {table}: teach this test, and its policy file")


def _tenant_tables(owner):
    """(table, victim filter, columns) of every guarded table that holds tenant rows."""
    for table in _catalog_tables(owner, GUARDED_TABLES):
        columns = _columns(owner, table)
        where = _victim_filter(columns, table)
        if where is not None:
            yield table, where, columns


def _victim_ids(owner, agency_id):
    return owner.execute(
        """select %(agency)s::uuid as agency,
                  array(select id from clients where agency_id = %(agency)s) as clients,
                  array(select id from webinars where agency_id = %(agency)s) as webinars,
                  array(select n.id from notes n join clients c on c.id = n.client_id
                        where c.agency_id = %(agency)s) as notes""",
        {"agency": agency_id},
    ).fetchone()


FINGERPRINT = """
select count(*) as n, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest
from {table} t where {where}
"""


def _fingerprint(owner, table, where, params):
    row = owner.execute(FINGERPRINT.format(table=table, where=where), params).fetchone()
    return row["n"], row["digest"]


def _attackers(demo):
    victim, other = demo["agencies"]
    other_client = other["clients"][0]
    other_webinar = other_client["webinars"][0]
    return {
        "participant of another webinar": db.RequestContext(
            user_id=other_webinar["participant"]["user_id"],
            role="participant",
            client_id=other_client["id"],
            agency_id=other["id"],
            webinar_id=other_webinar["id"],
        ),
        "client admin of another client": db.RequestContext(
            user_id=uuid.uuid4(), role="client_admin", client_id=other_client["id"]
        ),
        "agency admin of another agency": db.RequestContext(
            user_id=uuid.uuid4(), role="agency_admin", agency_id=other["id"]
        ),
        "no context": db.NO_CONTEXT,
    }


def test_catalog_has_the_seed_tables(owner):
    tables = set(_catalog_tables(owner, TENANT_TABLES))
    assert {
        "webinars",
        "webinar_live_presence",
        "webinar_user_sessions",
        "webinar_access_logs",
        "questions",
        "messages",
        "marketing_stats_daily",
        "notes",
    } <= tables


def test_every_tenant_table_has_forced_rls_and_a_policy(owner):
    for table in _catalog_tables(owner, GUARDED_TABLES):
        row = owner.execute(
            """select relrowsecurity, relforcerowsecurity,
                      (select count(*) from pg_policy where polrelid = c.oid) as policies
               from pg_class c where oid = %s::regclass""",
            (table,),
        ).fetchone()
        assert row["relrowsecurity"] and row["relforcerowsecurity"], table
        assert row["policies"] > 0, table


@pytest.mark.parametrize("role", ["eventflow_app", "eventflow_worker"])
def test_app_roles_are_unprivileged_and_own_nothing(owner, role):
    row = owner.execute(
        """select rolsuper, rolbypassrls, rolcanlogin,
                  (select count(*) from pg_class where relowner = r.oid) as relations,
                  (select count(*) from pg_proc where proowner = r.oid) as functions,
                  (select count(*) from pg_namespace where nspowner = r.oid) as schemas
           from pg_roles r where rolname = %s""",
        (role,),
    ).fetchone()
    assert row == {
        "rolsuper": False,
        "rolbypassrls": False,
        "rolcanlogin": True,
        "relations": 0,
        "functions": 0,
        "schemas": 0,
    }


def test_the_app_really_connects_as_eventflow_app(run_as):
    user = run_as(db.NO_CONTEXT, "select current_user as u").one["u"]
    assert user == "eventflow_app"


def test_isolation_matrix(owner, run_as, demo):
    params = _victim_ids(owner, demo["agencies"][0]["id"])
    failures = []
    for table, where, columns in _tenant_tables(owner):
        before = _fingerprint(owner, table, where, params)
        assert before[0] > 0, f"the demo seed left {table} empty: the matrix would prove nothing"
        victim_row = owner.execute(
            f"select to_jsonb(t) as row from {table} t where {where} limit 1", params
        ).fetchone()["row"]
        first = columns[0]
        for attacker, context in _attackers(demo).items():
            seen = run_as(context, f"select count(*) as n from {table} where {where}", params).one["n"]
            if seen:
                failures.append(f"{attacker} sees {seen} victim rows of {table}")
            for verb, sql in (
                ("update", f"update {table} set {first} = {first} where {where}"),
                ("delete", f"delete from {table} where {where}"),
            ):
                touched = _rowcount_or_refused(run_as, context, sql, params)
                if touched:
                    failures.append(f"{attacker} could {verb} {touched} victim rows of {table}")
            insert = (
                f"insert into {table} overriding system value "
                f"select * from jsonb_populate_record(null::{table}, %(row)s)"
            )
            if _rowcount_or_refused(run_as, context, insert, {"row": psycopg.types.json.Jsonb(victim_row)}):
                failures.append(f"{attacker} could insert a victim row into {table}")
        assert _fingerprint(owner, table, where, params) == before, f"victim rows of {table} changed"
    assert failures == []


def test_bookkeeping_tables_are_closed_to_the_app(owner):
    """Tables outside `public` without a tenant (the jobs' watermarks) grant the app nothing."""
    bookkeeping = [t for t in _catalog_tables(owner, GUARDED_TABLES) if _victim_filter(_columns(owner, t), t) is None]
    assert bookkeeping, "expected the jobs' watermarks"
    for table in bookkeeping:
        granted = owner.execute(
            "select has_table_privilege('eventflow_app', %s, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE') as any",
            (table,),
        ).fetchone()["any"]
        assert not granted, table


def _rowcount_or_refused(run_as, context, sql, params):
    """Rows the statement touched; 0 when row-level security or a missing grant refused it.

    A constraint violation counts as a row touched: the statement got past the policies."""
    try:
        return run_as(context, sql, params).rowcount
    except psycopg.errors.InsufficientPrivilege:
        return 0
    except psycopg.errors.IntegrityError:
        return 1


def test_agency_admin_sees_exactly_the_union_of_its_clients(owner, run_as, demo):
    agency = demo["agencies"][0]
    context = db.RequestContext(user_id=uuid.uuid4(), role="agency_admin", agency_id=agency["id"])
    params = _victim_ids(owner, agency["id"])
    for table, where, _ in _tenant_tables(owner):
        expected = _fingerprint(owner, table, where, params)
        seen = run_as(context, FINGERPRINT.format(table=table, where="true"), params).one
        assert (seen["n"], seen["digest"]) == expected, table


def test_participant_sees_nothing_of_a_sibling_webinar(owner, run_as, demo):
    """Same client, other webinar: still nothing of the victim webinar's rows."""
    client = demo["agencies"][0]["clients"][0]
    victim, sibling = client["webinars"]
    context = db.RequestContext(
        user_id=sibling["participant"]["user_id"],
        role="participant",
        client_id=client["id"],
        agency_id=demo["agencies"][0]["id"],
        webinar_id=sibling["id"],
    )
    for table, _, columns in _tenant_tables(owner):
        if "webinar_id" not in columns:
            continue
        seen = run_as(context, f"select count(*) as n from {table} where webinar_id = %s", (victim["id"],)).one["n"]
        assert seen == 0, table


def test_db_check_passes_on_the_migrated_schema(app):
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok:")


@pytest.mark.parametrize("table", ["public.sneaky_export", "reporting.sneaky_export"])
def test_db_check_fails_on_a_table_without_rls(app, owner, table):
    schema = table.split(".")[0]
    owner.execute(f"create schema if not exists {schema}")
    owner.execute(f"create table {table} (id int, client_id uuid)")
    try:
        result = app.test_cli_runner().invoke(args=["db", "check"])
        assert result.exit_code == 1
        assert f"table {table}: RLS not enabled, RLS not forced, no policy" in result.output
    finally:
        owner.execute(f"drop table {table}")
        if schema != "public":
            owner.execute(f"drop schema {schema}")
    assert app.test_cli_runner().invoke(args=["db", "check"]).exit_code == 0


def test_db_check_fails_on_a_privileged_role_and_an_unpinned_definer(app, owner):
    owner.execute("alter role eventflow_worker bypassrls")
    owner.execute("create function public.leaky() returns int language sql security definer as 'select 1'")
    try:
        result = app.test_cli_runner().invoke(args=["db", "check"])
        assert result.exit_code == 1
        assert "role eventflow_worker can bypass row-level security" in result.output
        assert "SECURITY DEFINER function public.leaky has no fixed search_path" in result.output
    finally:
        owner.execute("alter role eventflow_worker nobypassrls")
        owner.execute("drop function public.leaky()")
