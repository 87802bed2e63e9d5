-- The two roles the software connects as. Neither is superuser, neither bypasses row-level
-- security, neither owns anything: every table is owned by the migration role.
do $$
begin
    if not exists (select from pg_roles where rolname = 'eventflow_app') then
        create role eventflow_app login nosuperuser nobypassrls nocreatedb nocreaterole;
    end if;
    if not exists (select from pg_roles where rolname = 'eventflow_worker') then
        create role eventflow_worker login nosuperuser nobypassrls nocreatedb nocreaterole;
    end if;
end
$$;
alter role eventflow_app nosuperuser nobypassrls;
alter role eventflow_worker nosuperuser nobypassrls;

grant usage on schema public to eventflow_app, eventflow_worker;
revoke create on schema public from public;
