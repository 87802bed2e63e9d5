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

create policy "client admins read their client" on clients
    for select to eventflow_app
    using (id = app.admin_client_id());
create policy "agency admins read their clients" on clients
    for select to eventflow_app
    using (agency_id = app.admin_agency_id());


call app.reset_security('webinars');
grant select, insert, update on webinars to eventflow_app;
grant select on webinars to eventflow_worker;

create policy "participants read the webinar they are in" on webinars
    for select to eventflow_app
    using (id = app.participant_webinar_id());
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
