-- webinar_attendance and the rollup schema: what the jobs keep ready for the dashboard.
-- The jobs (eventflow_worker) write them; admins read their tenant's attendance.

call app.reset_security('webinar_attendance');
grant select on webinar_attendance to eventflow_app;
grant select, insert, update on webinar_attendance to eventflow_worker;

create policy "admins read their tenant's attendance" on webinar_attendance
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());
create policy "worker rolls up attendance" on webinar_attendance
    for all to eventflow_worker using (true) with check (true);


-- The watermarks are the jobs' own bookkeeping: the web app has no business with them.
grant usage on schema rollup to eventflow_app, eventflow_worker;
call app.reset_security('rollup.watermarks');
grant select, insert, update on rollup.watermarks to eventflow_worker;

create policy "worker advances its watermarks" on rollup.watermarks
    for all to eventflow_worker using (true) with check (true);

revoke all on function rollup.attended(integer, timestamptz, timestamptz, numeric) from public;
grant execute on function rollup.attended(integer, timestamptz, timestamptz, numeric)
    to eventflow_app, eventflow_worker;
