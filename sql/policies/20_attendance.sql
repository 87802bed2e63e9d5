-- registrations, webinar_live_presence, webinar_user_sessions, webinar_access_logs:
-- who signed up, who is connected, how long they watched. The hot path writes these as the
-- participant through stored procedures that run as the caller, so these policies decide.

call app.reset_security('registrations');
-- register_participant and track_access insert with ON CONFLICT DO NOTHING: nobody updates or
-- deletes a registration through the app, so neither is granted.
grant select, insert on registrations to eventflow_app;
grant select on registrations to eventflow_worker;

create policy "participants read their own registration" on registrations
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id() and user_id = app.participant_id());
create policy "participants register themselves" on registrations
    for insert to eventflow_app
    with check (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
                and app.participant_webinar_open(webinar_id));
create policy "admins read their tenant's registrations" on registrations
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());
-- The marketing rollup counts registrations through campaign links.
create policy "worker reads all registrations" on registrations
    for select to eventflow_worker using (true);


call app.reset_security('webinar_live_presence');
-- mark_live upserts the caller's row (ON CONFLICT DO UPDATE of these three columns only);
-- exit_access deletes it; the sweep deletes rows past the presence timeout.
grant select, insert, delete on webinar_live_presence to eventflow_app;
grant update (last_seen_at, display_name, session_id) on webinar_live_presence to eventflow_app;
grant select, delete on webinar_live_presence to eventflow_worker;

-- The live list is public inside a webinar; only one's own entry can be written.
create policy "participants read who is live in their webinar" on webinar_live_presence
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id());
create policy "participants insert their own presence" on webinar_live_presence
    for insert to eventflow_app
    with check (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
                and app.participant_webinar_open(webinar_id));
create policy "participants update their own presence" on webinar_live_presence
    for update to eventflow_app
    using (webinar_id = app.participant_webinar_id() and user_id = app.participant_id())
    with check (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
                and app.participant_webinar_open(webinar_id));
create policy "participants delete their own presence" on webinar_live_presence
    for delete to eventflow_app
    using (webinar_id = app.participant_webinar_id() and user_id = app.participant_id());
-- Admins watch the live list; no endpoint lets them write it.
create policy "admins read their tenant's presence" on webinar_live_presence
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());
create policy "worker reads presence" on webinar_live_presence
    for select to eventflow_worker using (true);
create policy "worker sweeps stale presence" on webinar_live_presence
    for delete to eventflow_worker using (true);


call app.reset_security('webinar_user_sessions');
-- track_access opens a session and refreshes last_heartbeat_at, ping_presence refreshes it,
-- exit_access sets exited_at; the sweep closes abandoned sessions (exited_at). Nothing else in a
-- session is ever rewritten, so only those columns are updatable.
grant select, insert on webinar_user_sessions to eventflow_app;
grant update (last_heartbeat_at, exited_at) on webinar_user_sessions to eventflow_app;
grant select on webinar_user_sessions to eventflow_worker;
grant update (exited_at) on webinar_user_sessions to eventflow_worker;

create policy "participants read their own sessions" on webinar_user_sessions
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id() and user_id = app.participant_id());
create policy "participants open their own sessions" on webinar_user_sessions
    for insert to eventflow_app
    with check (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
                and app.participant_webinar_open(webinar_id));
-- Only an open session moves, and never into the future: a closed one stays closed, and the
-- watch time the rollups read from it cannot be stretched. The wall clock (app.clock()), not
-- now(): a ping that started after this transaction may already have committed a later heartbeat.
create policy "participants refresh and close their own open sessions" on webinar_user_sessions
    for update to eventflow_app
    using (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
           and exited_at is null)
    with check (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
                and last_heartbeat_at <= app.clock()
                and (exited_at is null or exited_at <= greatest(app.clock(), entered_at)));
create policy "admins read their tenant's sessions" on webinar_user_sessions
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());
create policy "worker reads sessions" on webinar_user_sessions
    for select to eventflow_worker using (true);
create policy "worker closes abandoned sessions" on webinar_user_sessions
    for update to eventflow_worker using (true) with check (true);


call app.reset_security('webinar_access_logs');
grant select on webinar_access_logs to eventflow_app;
grant select, insert, update on webinar_access_logs to eventflow_worker;

create policy "admins read their tenant's access logs" on webinar_access_logs
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());
create policy "worker rolls up access logs" on webinar_access_logs
    for all to eventflow_worker using (true) with check (true);
