-- Client-level data, for admins only: email campaigns and policies, campaign links, the daily
-- marketing rollup, notes and their comments, invitations. Each row carries its client and
-- agency (migration 0009), which the policies compare with the context.

call app.reset_security('email_campaigns');
grant select, insert, update, delete on email_campaigns to eventflow_app;
grant select on email_campaigns to eventflow_worker;
create policy "admins manage their tenant's email campaigns" on email_campaigns
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());
create policy "worker reads email campaigns" on email_campaigns for select to eventflow_worker using (true);

call app.reset_security('client_email_policies');
grant select, insert, update on client_email_policies to eventflow_app;
create policy "admins manage their tenant's email policy" on client_email_policies
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());

call app.reset_security('campaign_link_meta');
grant select, insert, update, delete on campaign_link_meta to eventflow_app;
grant select on campaign_link_meta to eventflow_worker;
create policy "admins manage their tenant's campaign links" on campaign_link_meta
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());
create policy "worker reads campaign links" on campaign_link_meta for select to eventflow_worker using (true);

call app.reset_security('marketing_stats_daily');
grant select on marketing_stats_daily to eventflow_app;
grant select, insert, update on marketing_stats_daily to eventflow_worker;
create policy "admins read their tenant's marketing stats" on marketing_stats_daily
    for select to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());
create policy "worker rolls up marketing stats" on marketing_stats_daily
    for all to eventflow_worker using (true) with check (true);

call app.reset_security('notes');
grant select, insert, update, delete on notes to eventflow_app;
create policy "admins manage their tenant's notes" on notes
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());

call app.reset_security('note_comments');
grant select, insert, update, delete on note_comments to eventflow_app;
create policy "admins manage comments on their tenant's notes" on note_comments
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());

call app.reset_security('client_invitations');
grant select, insert, update, delete on client_invitations to eventflow_app;
create policy "admins manage their tenant's invitations" on client_invitations
    for all to eventflow_app
    using (client_id = app.admin_client_id() or agency_id = app.admin_agency_id());
