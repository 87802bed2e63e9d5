-- agencies, clients, webinars: the tenant tree itself. The jobs read webinars only.

call app.reset_security('agencies');
grant select on agencies to eventflow_app;

create policy "admins read their agency, or their client's" on agencies
    for select to eventflow_app
    using (id = (select app.admin_agency_id())
           or id in (select c.agency_id from clients c where c.id = (select app.admin_client_id())));


call app.reset_security('clients');
grant select on clients to eventflow_app;

create policy "admins read their client, or their agency's clients" on clients
    for select to eventflow_app
    using (id = (select app.admin_client_id()) or agency_id = (select app.admin_agency_id()));


call app.reset_security('webinars');
grant select, insert, update on webinars to eventflow_app;
grant select on webinars to eventflow_worker;

-- A draft or cancelled webinar does not exist to participants (contract §5, "Webinar states").
create policy "participants read the announced webinar they are in" on webinars
    for select to eventflow_app
    using (id = (select app.participant_webinar_id()) and status not in ('draft', 'cancelled'));
create policy "admins manage their tenant's webinars" on webinars
    for all to eventflow_app
    using (client_id = (select app.admin_client_id()) or agency_id = (select app.admin_agency_id()));
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


-- Whether the caller's webinar takes a participant's writes now (contract §5, "Webinar states"):
-- only while it is scheduled or live. A draft or cancelled webinar is not even visible to them
-- (the policy on webinars above); an ended one takes nothing but their exit, which only closes
-- sessions and deletes presence, which no policy below restricts. The web app refuses these
-- writes first (409, eventflow/tenancy.py); the restrictive policies "participants write only
-- into an open webinar" make the database refuse them as well. Runs as the caller, so the
-- participant's own policy on webinars decides what it sees; for any other role it is false.
create or replace function app.participant_webinar_open() returns boolean
    language sql stable set search_path = pg_catalog
    as $$ select exists (select from public.webinars w
                         where w.id = app.participant_webinar_id() and w.status in ('scheduled', 'live')) $$;
revoke all on function app.participant_webinar_open() from public;
grant execute on function app.participant_webinar_open() to eventflow_app;
