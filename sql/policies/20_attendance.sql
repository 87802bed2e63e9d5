-- registrations, webinar_live_presence, webinar_user_sessions, webinar_access_logs:
-- who signed up, who is connected, how long they watched. The hot path writes these as the
-- participant through stored procedures that run as the caller, so these policies decide.

call app.reset_security('registrations');
grant select, insert, update on registrations to eventflow_app;
grant select on registrations to eventflow_worker;

-- registrations carries no org fields: it reaches its tenant through webinars.
create policy "participants manage their own registration" on registrations
    for all to eventflow_app
    using (webinar_id = (select app.participant_webinar_id()) and user_id = (select app.participant_id()))
    with check (webinar_id = (select app.participant_webinar_id()) and user_id = (select app.participant_id()));
create policy "admins read registrations of their tenant's webinars" on registrations
    for select to eventflow_app
    using (webinar_id in (select w.id from webinars w
                          where w.client_id = (select app.admin_client_id())
                             or w.agency_id = (select app.admin_agency_id())));
create policy "worker reads all registrations" on registrations
    for select to eventflow_worker using (true);


call app.reset_security('webinar_live_presence');
grant select, insert, update, delete on webinar_live_presence to eventflow_app;
grant select, delete on webinar_live_presence to eventflow_worker;

-- The live list is public inside a webinar; only one's own entry can be written.
create policy "participants read who is live in their webinar" on webinar_live_presence
    for select to eventflow_app
    using (webinar_id = (select app.participant_webinar_id()));
create policy "participants insert their own presence" on webinar_live_presence
    for insert to eventflow_app
    with check (webinar_id = (select app.participant_webinar_id()) and user_id = (select app.participant_id()));
create policy "participants update their own presence" on webinar_live_presence
    for update to eventflow_app
    using (webinar_id = (select app.participant_webinar_id()) and user_id = (select app.participant_id()))
    with check (webinar_id = (select app.participant_webinar_id()) and user_id = (select app.participant_id()));
create policy "participants delete their own presence" on webinar_live_presence
    for delete to eventflow_app
    using (webinar_id = (select app.participant_webinar_id()) and user_id = (select app.participant_id()));
create policy "admins manage their tenant's presence" on webinar_live_presence
    for all to eventflow_app
    using (client_id = (select app.admin_client_id()) or agency_id = (select app.admin_agency_id()));
create policy "worker reads presence" on webinar_live_presence
    for select to eventflow_worker using (true);
create policy "worker sweeps stale presence" on webinar_live_presence
    for delete to eventflow_worker using (true);


call app.reset_security('webinar_user_sessions');
grant select, insert, update on webinar_user_sessions to eventflow_app;
grant select, update on webinar_user_sessions to eventflow_worker;

create policy "participants manage their own sessions" on webinar_user_sessions
    for all to eventflow_app
    using (webinar_id = (select app.participant_webinar_id()) and user_id = (select app.participant_id()))
    with check (webinar_id = (select app.participant_webinar_id()) and user_id = (select app.participant_id()));
create policy "admins read their tenant's sessions" on webinar_user_sessions
    for select to eventflow_app
    using (client_id = (select app.admin_client_id()) or agency_id = (select app.admin_agency_id()));
create policy "worker reads sessions" on webinar_user_sessions
    for select to eventflow_worker using (true);
create policy "worker closes abandoned sessions" on webinar_user_sessions
    for update to eventflow_worker using (true) with check (true);


call app.reset_security('webinar_access_logs');
grant select on webinar_access_logs to eventflow_app;
grant select, insert, update on webinar_access_logs to eventflow_worker;

create policy "admins read their tenant's access logs" on webinar_access_logs
    for select to eventflow_app
    using (client_id = (select app.admin_client_id()) or agency_id = (select app.admin_agency_id()));
create policy "worker rolls up access logs" on webinar_access_logs
    for all to eventflow_worker using (true) with check (true);
