-- webinar_files, webinar_downloads: handouts and who fetched them. No job reads either.

call app.reset_security('webinar_files');
grant select, insert, update, delete on webinar_files to eventflow_app;

create policy "participants read their webinar's files" on webinar_files
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id());
create policy "admins manage their tenant's files" on webinar_files
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());


call app.reset_security('webinar_downloads');
grant select, insert on webinar_downloads to eventflow_app;

create policy "participants read their own downloads" on webinar_downloads
    for select to eventflow_app
    using (webinar_id = app.participant_webinar_id() and user_id = app.participant_id());
create policy "participants record their own downloads" on webinar_downloads
    for insert to eventflow_app
    with check (webinar_id = app.participant_webinar_id() and user_id = app.participant_id()
                and app.participant_webinar_open(webinar_id));
create policy "admins read their tenant's downloads" on webinar_downloads
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());
