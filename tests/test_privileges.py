"""What the roles may do beyond row-level security, read from the catalog and held to explicit
allowlists: widening any of them is a conscious change to this file, sql/policies/ and SECURITY.md.
"""

APPLICATION_SCHEMA = "n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%%'"

# Every privilege eventflow_worker holds on a relation or schema of the application, as
# "PRIVILEGE" (the whole table) or "PRIVILEGE (columns)" (column grants only).
WORKER_PRIVILEGES = f"""
select format('%%I.%%I', n.nspname, c.relname) as name, p.privilege,
       has_table_privilege(%(role)s, c.oid, p.privilege) as whole,
       array(select a.attname from pg_attribute a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
               and p.privilege in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
               and has_column_privilege(%(role)s, c.oid, a.attnum, p.privilege)
             order by a.attnum) as columns
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'])
    as p (privilege)
where {APPLICATION_SCHEMA} and c.relkind in ('r', 'p', 'v', 'm', 'f')
union all
select format('%%I.%%I', n.nspname, c.relname), p.privilege,
       has_sequence_privilege(%(role)s, c.oid, p.privilege), '{{}}'
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
cross join unnest(array['USAGE', 'SELECT', 'UPDATE']) as p (privilege)
where {APPLICATION_SCHEMA} and c.relkind = 'S'
union all
select 'schema ' || n.nspname, p.privilege, has_schema_privilege(%(role)s, n.oid, p.privilege), '{{}}'
from pg_namespace n
cross join unnest(array['USAGE', 'CREATE']) as p (privilege)
where {APPLICATION_SCHEMA} and n.nspname <> 'pg_toast'
"""

# What the jobs (jobs/*.py and the SQL they run) read and write, and nothing else.
WORKER_ALLOWLIST = {
    # access_logs, attendance, marketing: each row's client and agency, the scheduled length
    "public.webinars": {"SELECT"},
    # the rollups read sessions; the presence sweep closes abandoned ones (exited_at only)
    "public.webinar_user_sessions": {"SELECT", "UPDATE (exited_at)"},
    # the presence sweep removes stale entries
    "public.webinar_live_presence": {"SELECT", "DELETE"},
    # the rollups' outputs: recomputed and upserted, never deleted
    "public.webinar_access_logs": {"SELECT", "INSERT", "UPDATE"},
    "public.webinar_attendance": {"SELECT", "INSERT", "UPDATE"},
    "public.marketing_stats_daily": {"SELECT", "INSERT", "UPDATE"},
    # the marketing rollup's inputs
    "public.registrations": {"SELECT"},
    "public.campaign_link_meta": {"SELECT"},
    "public.email_campaigns": {"SELECT"},
    # the jobs' own bookkeeping
    "rollup.watermarks": {"SELECT", "INSERT", "UPDATE"},
    "schema public": {"USAGE"},
    "schema rollup": {"USAGE"},
    "schema app": {"USAGE"},  # the request-context helpers; the jobs call none of them
}

# Functions of the application schemas eventflow_worker may call. The app.* helpers read only
# the caller's own transaction settings (and are executable by PUBLIC); app.webinar_tenant, the
# participant hot path and the chat functions are the web app's alone.
WORKER_FUNCTIONS = f"""
select p.oid::regprocedure::text as function
from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where {APPLICATION_SCHEMA} and has_function_privilege(%(role)s, p.oid, 'EXECUTE')
order by 1
"""
WORKER_FUNCTION_ALLOWLIST = {
    "rollup.attended(integer,timestamp with time zone,timestamp with time zone,numeric)",  # marketing
    "app.setting(text)",
    "app.clock()",
    "app.user_id()",
    "app.participant_id()",
    "app.participant_webinar_id()",
    "app.admin_client_id()",
    "app.admin_agency_id()",
}

# Every SECURITY DEFINER function of the application schemas, and who may call it (PUBLIC
# included). Each one is explained in SECURITY.md ("SECURITY DEFINER functions").
DEFINER_FUNCTIONS = f"""
select p.oid::regprocedure::text as function,
       array(select r.name from unnest(array['public', 'eventflow_app', 'eventflow_worker']) as r (name)
             where has_function_privilege(r.name, p.oid, 'EXECUTE') order by 1) as callers
from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where {APPLICATION_SCHEMA} and p.prosecdef
order by 1
"""
DEFINER_ALLOWLIST = {
    "app.webinar_tenant(uuid)": ["eventflow_app"],
    "app.removed_messages(uuid,bigint)": ["eventflow_app"],
    "app.removed_questions(uuid,bigint)": ["eventflow_app"],
    # trigger functions: they fire for whoever writes the table; nobody calls them directly
    "app.take_feed_seq()": [],
    "app.touch_reacted_question()": [],
}


def _privileges(owner, role):
    held = {}
    for row in owner.execute(WORKER_PRIVILEGES, {"role": role}):
        if row["whole"]:
            held.setdefault(row["name"], set()).add(row["privilege"])
        elif row["columns"]:
            held.setdefault(row["name"], set()).add(f"{row['privilege']} ({', '.join(row['columns'])})")
    return held


def test_the_worker_holds_exactly_what_the_jobs_need(owner):
    assert _privileges(owner, "eventflow_worker") == WORKER_ALLOWLIST


def test_the_worker_calls_only_the_functions_it_needs(owner):
    functions = {row["function"] for row in owner.execute(WORKER_FUNCTIONS, {"role": "eventflow_worker"})}
    assert functions == WORKER_FUNCTION_ALLOWLIST


def test_security_definer_functions_are_exactly_the_documented_ones(owner):
    definers = {row["function"]: row["callers"] for row in owner.execute(DEFINER_FUNCTIONS, {})}
    assert definers == DEFINER_ALLOWLIST
