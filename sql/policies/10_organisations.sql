-- agencies, clients, webinars: the tenant tree itself. The jobs read webinars only.
-- A client admin does not read its agency's row: that needs a policy with a subquery (Citus has
-- none) and no endpoint shows it.

call app.reset_security('agencies');
grant select on agencies to eventflow_app;

create policy "agency admins read their agency" on agencies
    for select to eventflow_app
    using (id = app.admin_agency_id());


call app.reset_security('clients');
grant select on clients to eventflow_app;

create policy "admins read their client, or their agency's clients" on clients
    for select to eventflow_app
    using (id = app.admin_client_id() or agency_id = app.admin_agency_id());


call app.reset_security('webinars');
grant select, insert, update on webinars to eventflow_app;
grant select on webinars to eventflow_worker;

-- A draft or cancelled webinar does not exist to participants (contract §5, "Webinar states").
create policy "participants read the announced webinar they are in" on webinars
    for select to eventflow_app
    using (id = app.participant_webinar_id() and status not in ('draft', 'cancelled'));
create policy "admins manage their tenant's webinars" on webinars
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());
-- The rollups take each row's client_id / agency_id and the scheduled length from webinars.
create policy "worker reads all webinars" on webinars
    for select to eventflow_worker using (true);


-- Participants reach a tenant through the webinar in the URL, before any context exists: this
-- resolver answers "whose webinar is this?" for one id and nothing more. It runs as the schema
-- owner (which bypasses row-level security) with a fixed search_path.
create or replace function app.webinar_tenant(webinar uuid)
    returns table (id uuid, client_id uuid, agency_id uuid, status text,
                   starts_at timestamptz, ends_at timestamptz)
    language sql stable security definer set search_path = pg_catalog, public
    as $$ select w.id, w.client_id, w.agency_id, w.status, w.starts_at, w.ends_at
          from public.webinars w where w.id = webinar $$;
-- Only the web app resolves webinars this way; no job does.
revoke all on function app.webinar_tenant(uuid) from public, eventflow_worker;
grant execute on function app.webinar_tenant(uuid) to eventflow_app;


-- Whether a participant may write a row of this webinar now (contract §5, "Webinar states"): it is
-- the caller's own webinar and it is scheduled or live. A draft or cancelled webinar is not even
-- visible to them (the policy on webinars above); an ended one takes nothing but their exit,
-- which only closes sessions and deletes presence, which no policy checks with this. The web
-- app refuses these writes first (409, eventflow/tenancy.py); every participant policy that
-- inserts (and the one that updates presence) also requires this of the written row's
-- webinar_id, so the database refuses them as well. Runs as the caller, so the participant's own
-- policy on webinars decides what it sees; for any other role it is false.
--
-- Part of the participants' own permissive policies, not a restrictive policy beside them:
-- Citus creates every policy on the shards as a permissive one (13.2 drops AS RESTRICTIVE when it
-- copies a policy), where a restrictive "not a participant, or an open webinar" would have let
-- any admin and any caller without context insert. Called plainly, as every helper (Citus
-- refuses subqueries in policies), once per row written: a participant writes one row at a time.
-- It takes the row's webinar rather than the context's, so that on Citus it reads the webinars
-- row colocated with the row being checked, on the same node, even when a participant tries to
-- write into another webinar (then it answers false without reading): nested execution is
-- allowed for that one local read, as for app.removed_messages (on plain PostgreSQL the setting
-- is an unused placeholder). PL/pgSQL because Citus plans no query with a SQL function's
-- parameter in it.
create or replace function app.participant_webinar_open(webinar uuid) returns boolean
    language plpgsql stable set search_path = pg_catalog
    set citus.allow_nested_distributed_execution = on
    as $$
begin
    if webinar is distinct from app.participant_webinar_id() then
        return false;
    end if;
    return exists (select 1 from public.webinars w where w.id = webinar and w.status in ('scheduled', 'live'));
end
$$;
revoke all on function app.participant_webinar_open(uuid) from public;
grant execute on function app.participant_webinar_open(uuid) to eventflow_app;
-- The form without an argument, which read the context's webinar, is replaced by the one above;
-- the restrictive policies that called it go with it (the files that follow keep the rule in the
-- participants' own policies), in this same transaction.
drop function if exists app.participant_webinar_open() cascade;
