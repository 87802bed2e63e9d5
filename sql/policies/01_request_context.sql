-- The request context, read by every policy.
--
-- The web app sets app.user_id, app.role, app.client_id, app.agency_id and (participants)
-- app.webinar_id with SET LOCAL as the first statement of each request's transaction (on Citus,
-- with citus.propagate_set_commands = 'local', which carries them to the workers' shards).
-- Each helper yields NULL unless the setting is present, non-empty and belongs to the role it
-- speaks for, so a transaction without context matches no row (fail closed).
--
-- Policies call them plainly (app.fn(), not app.fn()): Citus refuses policies with
-- subqueries. So that this costs no function call per row, each helper is one SQL expression
-- with a SQL-standard body (bound when it is created, so no search_path can redirect it), which
-- PostgreSQL inlines into the policy: a setting lookup, and for an index scan a key computed
-- once per statement.

create schema if not exists app;
grant usage on schema app to eventflow_app, eventflow_worker;

create or replace function app.setting(name text) returns text
    language sql stable parallel safe
    return nullif(pg_catalog.current_setting(name, true), '');

create or replace function app.user_id() returns uuid
    language sql stable parallel safe
    return app.setting('app.user_id')::uuid;

create or replace function app.participant_id() returns uuid
    language sql stable parallel safe
    return case when app.setting('app.role') = 'participant' then app.setting('app.user_id')::uuid end;

create or replace function app.participant_webinar_id() returns uuid
    language sql stable parallel safe
    return case when app.setting('app.role') = 'participant' then app.setting('app.webinar_id')::uuid end;

create or replace function app.admin_client_id() returns uuid
    language sql stable parallel safe
    return case when app.setting('app.role') = 'client_admin' then app.setting('app.client_id')::uuid end;

create or replace function app.admin_agency_id() returns uuid
    language sql stable parallel safe
    return case when app.setting('app.role') = 'agency_admin' then app.setting('app.agency_id')::uuid end;

-- The wall clock for policy checks: clock_timestamp(), declared STABLE because Citus refuses
-- VOLATILE functions in an UPDATE (they could differ between shards). A policy check reads it
-- once per row, on the node that holds the row, which is all a check needs.
create or replace function app.clock() returns timestamptz
    language sql stable parallel safe
    return pg_catalog.clock_timestamp();

-- Policy files start from a clean slate for their tables, so a policy deleted from a file is
-- deleted from the database too when the files are re-applied.
create or replace procedure app.reset_security(tbl regclass)
    language plpgsql set search_path = pg_catalog
    as $$
declare
    pol record;
begin
    for pol in select policyname from pg_policies
               where format('%I.%I', schemaname, tablename)::regclass = tbl
    loop
        execute format('drop policy %I on %s', pol.policyname, tbl);
    end loop;
    execute format('revoke all on %s from eventflow_app, eventflow_worker', tbl);
    execute format('alter table %s enable row level security', tbl);
    execute format('alter table %s force row level security', tbl);
end
$$;
revoke all on procedure app.reset_security(regclass) from public;
grant execute on function app.setting(text), app.clock(), app.user_id(), app.participant_id(),
    app.participant_webinar_id(), app.admin_client_id(), app.admin_agency_id()
    to eventflow_app, eventflow_worker;
