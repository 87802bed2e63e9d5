-- Covering indexes for the foreign keys that migration 0009 added (`eventflow db check` fails on
-- a foreign key without one, see migration 0008). On Citus each index is built on every shard,
-- where the keys are checked.

create index registrations_webinar_client_agency_idx on registrations (webinar_id, client_id, agency_id);

-- The campaign links' key to their webinar gained agency_id; the index of 0008 covered the
-- (target_webinar_id, client_id) key that 0009 replaced.
drop index campaign_link_meta_target_webinar_client_idx;
create index campaign_link_meta_target_webinar_client_agency_idx
    on campaign_link_meta (target_webinar_id, client_id, agency_id);

-- Client-level tables reach their client with its agency.
create index client_email_policies_client_agency_idx on client_email_policies (client_id, agency_id);
create index marketing_stats_daily_client_agency_idx on marketing_stats_daily (client_id, agency_id);
create index notes_client_agency_idx on notes (client_id, agency_id);
create index note_comments_client_agency_idx on note_comments (client_id, agency_id);
create index client_invitations_client_agency_idx on client_invitations (client_id, agency_id);
