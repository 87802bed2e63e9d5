-- webinar_files, webinar_downloads: handouts and who fetched them.

call app.reset_security('webinar_files');
grant select, insert, update, delete on webinar_files to eventflow_app;
grant select on webinar_files to eventflow_worker;

create policy "participants read their webinar's files" on webinar_files
    for select to eventflow_app
    using (webinar_id = (select app.participant_webinar_id()));
create policy "admins manage their tenant's files" on webinar_files
    for all to eventflow_app
    using (client_id = (select app.admin_client_id()) or agency_id = (select app.admin_agency_id()));
create policy "worker reads files" on webinar_files
    for select to eventflow_worker using (true);


call app.reset_security('webinar_downloads');
grant select, insert on webinar_downloads to eventflow_app;
grant select on webinar_downloads to eventflow_worker;

create policy "participants record and read their own downloads" on webinar_downloads
    for all to eventflow_app
    using (webinar_id = (select app.participant_webinar_id()) and user_id = (select app.participant_id()))
    with check (webinar_id = (select app.participant_webinar_id()) and user_id = (select app.participant_id()));
create policy "admins read their tenant's downloads" on webinar_downloads
    for select to eventflow_app
    using (client_id = (select app.admin_client_id()) or agency_id = (select app.admin_agency_id()));
create policy "worker reads downloads" on webinar_downloads
    for select to eventflow_worker using (true);
