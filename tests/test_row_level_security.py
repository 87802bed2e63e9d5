"""Row-level security, proven from the catalog against the real policies, as eventflow_app.

Tables are found by querying the catalog, so a new table is covered without anyone adding it
here. The victim is everything of one agency of the demo seed; the attackers are a participant
of another webinar, a client admin of another client, an agency admin of another agency, and a
transaction with no context at all.
"""

import json
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
select attname, format_type(atttypid, atttypmod) as type from pg_attribute
where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum
"""


def _catalog_tables(owner, query):
    return [row["relname"] for row in owner.execute(query)]


@pytest.fixture(scope="module")
def demo(services, settings):
    return seed_demo(services["owner_url"], settings.jwt_secret, settings.jwt_audience)


def _columns(owner, table):
    return [row["attname"] for row in owner.execute(COLUMNS, (table,))]


def _insert_of(owner, table, row):
    """An INSERT of `row` (as to_jsonb gave it) with one typed parameter per column: a plain
    VALUES insert, which Citus routes to the row's shard (an INSERT ... SELECT it would COPY)."""
    columns = owner.execute(COLUMNS, (table,)).fetchall()
    names = ", ".join(c["attname"] for c in columns)
    values = ", ".join(f"%s::{c['type']}" for c in columns)
    params = [_as_text(row[c["attname"]], c["type"]) for c in columns]
    return f"insert into {table} ({names}) overriding system value values ({values})", params


def _as_text(value, column_type):
    if value is None:
        return None
    return json.dumps(value) if column_type in ("json", "jsonb") else str(value)


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
            insert, values = _insert_of(owner, table, victim_row)
            if _rowcount_or_refused(run_as, context, insert, values):
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


# Tables with a user_id: one viewer's rows. Most are personal (only their author, and their
# tenant's admins, see them). These are webinar-wide instead: every participant of the webinar
# sees the rows matching the predicate, whoever wrote them.
WEBINAR_WIDE = {
    "public.webinar_live_presence": "true",  # the live list: who else is in the room
    "public.messages": "not hidden",  # the chat, but for what a moderator hid
    "public.questions": "status = 'answered' and is_public",  # answered public questions
    "public.reactions": "true",  # reactions and upvotes are counted in the room
    "public.draw_winners": "true",  # winners are announced in the room
}

# The rows a participant may rewrite once written, by column (UPDATE) or "DELETE"; all the
# other rows with a user_id are read- and insert-only for their author (sql/policies/).
OWN_ROW_WRITES = {
    # mark_live upserts these columns of the caller's presence; exit_access deletes it
    "public.webinar_live_presence": {"last_seen_at", "display_name", "session_id", "DELETE"},
    # track_access and ping_presence refresh the heartbeat; exit_access closes the session
    "public.webinar_user_sessions": {"last_heartbeat_at", "exited_at"},
    # withdrawing an upvote
    "public.reactions": {"DELETE"},
}

# The webinar where most viewers wrote rows of the table, and its most prolific viewer there.
BUSIEST_VIEWER = """
select t.webinar_id, t.user_id, w.client_id, w.agency_id
from {table} t join webinars w on w.id = t.webinar_id
group by t.webinar_id, t.user_id, w.client_id, w.agency_id
order by count(*) over (partition by t.webinar_id) desc, count(*) desc, t.webinar_id, t.user_id
limit 1
"""
WRITABLE_COLUMNS = """
select attname from pg_attribute
where attrelid = %s::regclass and attnum > 0 and not attisdropped
  and attidentity <> 'a' and attgenerated = ''
order by attnum
"""


def _viewer_tables(owner):
    """(table, columns) of every guarded table with a user_id: one viewer's rows."""
    for table in _catalog_tables(owner, GUARDED_TABLES):
        columns = _columns(owner, table)
        if "user_id" in columns:
            assert "webinar_id" in columns, f"{table} has viewers but no webinar: teach this test"
            yield table, columns


def _busiest_viewer(owner, table):
    row = owner.execute(BUSIEST_VIEWER.format(table=table)).fetchone()
    assert row, f"the demo seed left {table} empty: the test would prove nothing"
    context = db.RequestContext(
        user_id=row["user_id"],
        role="participant",
        client_id=row["client_id"],
        agency_id=row["agency_id"],
        webinar_id=row["webinar_id"],
    )
    return row["webinar_id"], row["user_id"], context


def test_webinar_wide_tables_are_viewer_tables(owner):
    assert set(WEBINAR_WIDE) | set(OWN_ROW_WRITES) <= {table for table, _ in _viewer_tables(owner)}


def test_participant_sees_nothing_personal_of_another_participant_of_the_same_webinar(owner, run_as, demo):
    failures = []
    for table, _ in _viewer_tables(owner):
        webinar_id, user_id, context = _busiest_viewer(owner, table)
        exposed = WEBINAR_WIDE.get(table, "false")
        others = f"select count(*) as n from {table} where webinar_id = %s and user_id <> %s and not ({exposed})"
        hidden = owner.execute(others, (webinar_id, user_id)).fetchone()["n"]
        if exposed == "false":
            assert hidden > 0, f"the demo seed has one viewer of {table} per webinar: the test would prove nothing"
        seen = run_as(context, others, (webinar_id, user_id)).one["n"]
        if seen:
            failures.append(f"a participant sees {seen} of {hidden} rows of other viewers in {table}")
    assert failures == []


def test_participant_cannot_rewrite_their_own_rows_where_they_only_read_and_insert(owner, run_as, demo):
    failures = []
    for table, _ in _viewer_tables(owner):
        webinar_id, user_id, context = _busiest_viewer(owner, table)
        allowed = OWN_ROW_WRITES.get(table, set())
        mine = "webinar_id = %(webinar)s and user_id = %(user)s"
        params = {"webinar": webinar_id, "user": user_id}
        statements = [
            (f"update {column}", f"update {table} set {column} = {column} where {mine}")
            for (column,) in owner.cursor(row_factory=psycopg.rows.tuple_row).execute(WRITABLE_COLUMNS, (table,))
            if column not in allowed
        ]
        if "DELETE" not in allowed:
            statements.append(("delete", f"delete from {table} where {mine}"))
        for verb, sql in statements:
            touched = _rowcount_or_refused(run_as, context, sql, params)
            if touched:
                failures.append(f"a participant could {verb} {touched} of their own rows of {table}")
    assert failures == []
