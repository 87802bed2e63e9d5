"""`db upgrade` is idempotent; the ledger records every migration file."""

from eventflow import migrations

CATALOG_SNAPSHOT = """
select
  (select json_agg(p order by p.tablename, p.policyname)
     from (select tablename, policyname, permissive, roles::text[], cmd, qual, with_check
           from pg_policies) p) as policies,
  (select json_agg(t order by t.nspname, t.relname)
     from (select n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity, c.relacl::text
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')) t) as tables,
  (select json_agg(f order by f.name)
     from (select p.oid::regprocedure::text as name, pg_get_functiondef(p.oid) as definition,
                  p.proacl::text as acl
           from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname not in ('pg_catalog', 'information_schema')) f) as functions,
  (select json_agg(a order by a.relname, a.attname)
     from (select attrelid::regclass::text as relname, attname, attacl::text
           from pg_attribute where attacl is not null) a) as column_grants,
  (select json_agg(c order by c.table_name, c.ordinal_position)
     from (select table_name, column_name, ordinal_position, data_type, is_nullable, column_default
           from information_schema.columns where table_schema = 'public') c) as columns,
  (select json_agg(version order by version) from schema_migrations) as ledger,
  (select json_agg(r order by r.rolname)
     from (select rolname, rolsuper, rolbypassrls, rolcanlogin from pg_roles
           where rolname like 'eventflow%%') r) as roles
"""


def test_upgrade_twice_changes_nothing(services, owner):
    before = owner.execute(CATALOG_SNAPSHOT).fetchone()
    assert migrations.upgrade(services["owner_url"], log=lambda message: None) == []
    assert migrations.upgrade(services["owner_url"], log=lambda message: None) == []
    assert owner.execute(CATALOG_SNAPSHOT).fetchone() == before


def test_ledger_lists_every_migration_file(owner):
    recorded = [row["version"] for row in owner.execute("select version from schema_migrations order by 1")]
    assert recorded == [path.stem for path in migrations.migration_files()]
    assert recorded and all(name[:4].isdigit() and name[4] == "_" for name in recorded)
