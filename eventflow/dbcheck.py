"""`db check`: the security invariants of contract §3, read from the catalog.

Every table of every application schema (all but PostgreSQL's own, and but the migration ledger)
must have row-level security enabled and forced and at least one policy; the app and worker roles must
not be superuser, bypass RLS or own anything (a schema included), nor be members of a role that is
or does (they could SET ROLE to it); no view of an application schema may run as its owner, and no
materialized view may hold rows outside row-level security; every SECURITY DEFINER function must
pin its search_path. Objects that belong to an extension (Citus' own views in `public`) are the
extension's, not the application's. On Citus (`distribution_problems`), every application table
must also be distributed or a reference table, with row-level security enabled and forced on
every shard of it, where the workers' queries read.

Two lessons of Supabase's splinter linter, adapted to these roles: every foreign key needs an
index that covers it (a problem: without one, each delete or key update of the referenced row
scans the referencing table, under a lock); several permissive policies for one role and command
are a warning (PostgreSQL evaluates every one of them for every row).
"""

import psycopg
from psycopg.rows import tuple_row

from eventflow import migrations

APP_ROLES = ("eventflow_app", "eventflow_worker")

TABLES_WITHOUT_RLS = """
select format('%I.%I', n.nspname, c.relname) as table_name,
       c.relrowsecurity as enabled,
       c.relforcerowsecurity as forced,
       (select count(*) from pg_policy p where p.polrelid = c.oid) as policies
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%'
  and c.relkind in ('r', 'p')
  and (n.nspname, c.relname) <> ('public', 'schema_migrations')
  and not exists (select from pg_depend d
                  where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
  and (not c.relrowsecurity or not c.relforcerowsecurity
       or not exists (select from pg_policy p where p.polrelid = c.oid))
order by 1
"""

ROLE_PROBLEMS = """
select r.rolname, r.rolsuper, r.rolbypassrls,
       (select count(*) from pg_class c where c.relowner = r.oid) as owned_relations,
       (select count(*) from pg_proc p where p.proowner = r.oid) as owned_functions
from pg_roles r
where r.rolname = any(%s)
"""

# Roles the app or worker role can become (pg_has_role MEMBER: directly or through other roles)
# that are superuser, bypass row-level security or own something: membership is their power.
PRIVILEGED_MEMBERSHIPS = """
select m.rolname as member, r.rolname as role, r.rolsuper, r.rolbypassrls, o.owned
from pg_roles m
join pg_roles r on r.oid <> m.oid and pg_has_role(m.oid, r.oid, 'MEMBER')
cross join lateral (
    select (select count(*) from pg_class c where c.relowner = r.oid)
         + (select count(*) from pg_proc p where p.proowner = r.oid)
         + (select count(*) from pg_namespace n where n.nspowner = r.oid)
         + (select count(*) from pg_database d where d.datdba = r.oid) as owned
) o
where m.rolname = any(%s)
  and (r.rolsuper or r.rolbypassrls or o.owned > 0)
order by 1, 2
"""

OWNED_SCHEMAS = """
select r.rolname, n.nspname
from pg_namespace n join pg_roles r on r.oid = n.nspowner
where r.rolname = any(%s)
order by 1, 2
"""

# A view reads its tables with its owner's rights unless it is security_invoker, and the owner
# (the migration role) is not bound by row-level security; a materialized view stores its rows,
# and row-level security cannot apply to it at all.
VIEWS_AS_OWNER = """
select format('%I.%I', n.nspname, c.relname) as view_name, c.relkind = 'm' as materialized
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%'
  and not exists (select from pg_depend d
                  where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
  and (c.relkind = 'm'
       or (c.relkind = 'v'
           and not exists (select from unnest(coalesce(c.reloptions, '{}')) as option
                           where lower(option) in ('security_invoker=true', 'security_invoker=on',
                                                   'security_invoker=yes', 'security_invoker=1'))))
order by 1
"""

DEFINER_WITHOUT_SEARCH_PATH = """
select n.nspname || '.' || p.proname as function_name
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
where p.prosecdef
  and n.nspname not in ('pg_catalog', 'information_schema')
  and not exists (select from unnest(coalesce(p.proconfig, '{}')) as setting
                  where setting like 'search_path=%')
order by 1
"""

# Application tables (as above) that Citus neither distributes by hash nor keeps as a reference
# table: a plain table on the coordinator, or a Citus local table.
UNDISTRIBUTED_TABLES = """
select format('%I.%I', n.nspname, c.relname) as table_name
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%'
  and c.relkind in ('r', 'p')
  and (n.nspname, c.relname) <> ('public', 'schema_migrations')
  and not exists (select from pg_depend d
                  where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
  and not exists (select from pg_dist_partition p
                  where p.logicalrelid = c.oid and (p.partmethod = 'h' or p.repmodel = 't'))
order by 1
"""

# Each shard placement's own pg_class row, read on the node that holds it.
SHARDS_WITHOUT_RLS = """
select p.logicalrelid::regclass::text as table_name, r.nodename, r.nodeport, r.result
from pg_dist_partition p
cross join lateral run_command_on_placements(
    p.logicalrelid,
    $$select relrowsecurity and relforcerowsecurity from pg_class where oid = '%s'::regclass$$) r
where not r.success or r.result <> 't'
order by 1, 2, 3
"""

# Citus 13.2 copies a policy to the shards without AS RESTRICTIVE: on the shards, where the
# workers' queries read, a restrictive policy becomes one more permissive one, widening access.
RESTRICTIVE_POLICIES = """
select p.polrelid::regclass::text as table_name, p.polname
from pg_policy p
where not p.polpermissive
order by 1, 2
"""


def distribution_problems(conn):
    """On Citus: application tables that are not distributed or reference tables, shards without
    enabled and forced row-level security, and restrictive policies (permissive on the shards).
    Nothing on plain PostgreSQL."""
    if not migrations.has_citus(conn):
        return []
    cursor = conn.cursor(row_factory=tuple_row)
    problems = [
        f"table {table}: neither distributed nor a reference table on Citus"
        for (table,) in cursor.execute(UNDISTRIBUTED_TABLES).fetchall()
    ]
    problems.extend(
        f"table {table}: a shard on {host}:{port} has RLS not enabled or not forced ({result})"
        for table, host, port, result in cursor.execute(SHARDS_WITHOUT_RLS).fetchall()
    )
    problems.extend(
        f"table {table}: restrictive policy {policy}, which Citus makes permissive on the shards"
        for table, policy in cursor.execute(RESTRICTIVE_POLICIES).fetchall()
    )
    return problems


# A foreign key is covered by a valid, non-partial index whose leading columns are the key's
# columns, in any order (the lookups compare all of them for equality).
UNINDEXED_FOREIGN_KEYS = """
select format('%I.%I', n.nspname, t.relname) as table_name, c.conname as constraint_name,
       (select string_agg(a.attname, ', ' order by k.position)
        from unnest(c.conkey) with ordinality as k (attnum, position)
        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum) as columns
from pg_constraint c
join pg_class t on t.oid = c.conrelid
join pg_namespace n on n.oid = t.relnamespace
where c.contype = 'f'
  and n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%'
  and not exists (
      select from pg_index i
      where i.indrelid = c.conrelid and i.indisvalid and i.indpred is null
        and (select array_agg(attnum order by attnum)
             from unnest((string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)]) as attnum)
          = (select array_agg(attnum order by attnum) from unnest(c.conkey) as attnum))
order by 1, 2
"""

# Permissive policies are OR-ed: each one applies to every row a command touches. A policy for
# all commands counts for each; one for PUBLIC counts as "public".
MULTIPLE_PERMISSIVE_POLICIES = """
select format('%I.%I', n.nspname, t.relname) as table_name,
       coalesce(r.rolname, 'public') as role_name, command,
       array_agg(p.polname order by p.polname) as policies
from pg_policy p
join pg_class t on t.oid = p.polrelid
join pg_namespace n on n.oid = t.relnamespace
cross join lateral unnest(p.polroles) as role_oid
left join pg_roles r on r.oid = role_oid
cross join lateral unnest(case p.polcmd when 'r' then array['SELECT'] when 'a' then array['INSERT']
                                        when 'w' then array['UPDATE'] when 'd' then array['DELETE']
                                        else array['SELECT', 'INSERT', 'UPDATE', 'DELETE'] end) as command
where p.polpermissive
group by 1, 2, 3
having count(*) > 1
order by 1, 2, array_position(array['SELECT', 'INSERT', 'UPDATE', 'DELETE'], command)
"""


def unindexed_foreign_keys(conn):
    """Problems: each foreign key without an index that covers it."""
    return [
        f"foreign key {name} of {table} ({columns}) has no index that covers it"
        for table, name, columns in conn.execute(UNINDEXED_FOREIGN_KEYS)
    ]


def multiple_permissive_policies(conn):
    """Warnings: each table, role and command with more than one permissive policy."""
    return [
        f"table {table}: {len(policies)} permissive policies for {role} {command}: {', '.join(policies)}"
        for table, role, command, policies in conn.execute(MULTIPLE_PERMISSIVE_POLICIES)
    ]


def find_warnings(owner_url):
    """Return a list of human-readable warnings: costs, not holes."""
    with psycopg.connect(owner_url) as conn:
        return multiple_permissive_policies(conn)


def find_problems(owner_url):
    """Return a list of human-readable problems; empty when the database is sound."""
    problems = []
    with psycopg.connect(owner_url) as conn:
        for table, enabled, forced, policies in conn.execute(TABLES_WITHOUT_RLS):
            missing = [
                what
                for what, ok in (("RLS not enabled", enabled), ("RLS not forced", forced), ("no policy", policies))
                if not ok
            ]
            problems.append(f"table {table}: {', '.join(missing)}")
        found_roles = set()
        for name, is_super, bypass, tables, functions in conn.execute(ROLE_PROBLEMS, (list(APP_ROLES),)):
            found_roles.add(name)
            if is_super:
                problems.append(f"role {name} is a superuser")
            if bypass:
                problems.append(f"role {name} can bypass row-level security")
            if tables or functions:
                problems.append(f"role {name} owns {tables} relations and {functions} functions")
        problems.extend(f"role {name} is missing" for name in APP_ROLES if name not in found_roles)
        for member, role, is_super, bypass, owned in conn.execute(PRIVILEGED_MEMBERSHIPS, (list(APP_ROLES),)):
            powers = [
                what
                for what, has in (
                    ("is a superuser", is_super),
                    ("can bypass row-level security", bypass),
                    (f"owns {owned} objects", owned),
                )
                if has
            ]
            problems.append(f"role {member} is a member of role {role}, which {' and '.join(powers)}")
        for name, schema in conn.execute(OWNED_SCHEMAS, (list(APP_ROLES),)):
            problems.append(f"role {name} owns schema {schema}")
        for view, materialized in conn.execute(VIEWS_AS_OWNER):
            if materialized:
                problems.append(f"materialized view {view} holds rows outside row-level security")
            else:
                problems.append(f"view {view} runs as its owner, bypassing row-level security (not security_invoker)")
        for (function,) in conn.execute(DEFINER_WITHOUT_SEARCH_PATH):
            problems.append(f"SECURITY DEFINER function {function} has no fixed search_path")
        problems.extend(unindexed_foreign_keys(conn))
        problems.extend(distribution_problems(conn))
    return problems
