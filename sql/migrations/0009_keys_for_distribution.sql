-- Keys that let Citus distribute the schema, applied on plain PostgreSQL as well so that there is
-- one schema (sql/citus/distribute.sql says which table is distributed how).
--
-- Citus shards a table by one column and enforces a primary key, unique constraint or foreign
-- key only when it contains that column (a foreign key between two distributed tables also only
-- when both are in one colocation group), and it refuses row-level security policies with
-- subqueries. So:
--   * webinar-scoped tables are distributed by webinar_id, colocated with webinars by id; their
--     keys already start with it. registrations and the campaign links gain the org fields that
--     every other webinar table carries, so their policies need no subquery through webinars;
--   * client-level tables are distributed by client_id (their own colocation group): their
--     primary keys gain client_id, and they carry agency_id so that an agency admin's policy
--     needs no subquery through clients; note_comments reaches its tenant by its own columns;
--   * foreign keys from client-level tables to webinars cross colocation groups and are dropped
--     (the webinar a campaign or note names is checked where it is written);
--   * a webinar's slug is unique per client no more: that needs a key on (client_id, slug), which
--     a table distributed by id cannot enforce. Slugs stay readable labels; ids identify.

alter table webinars drop constraint webinars_client_id_slug_key;


-- registrations: the org fields of its webinar, as on every other webinar table.
alter table registrations add column client_id uuid, add column agency_id uuid;
update registrations r set client_id = w.client_id, agency_id = w.agency_id
from webinars w where w.id = r.webinar_id;
alter table registrations
    alter column client_id set not null,
    alter column agency_id set not null,
    add foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id);
create index registrations_client_id_idx on registrations (client_id);
create index registrations_agency_id_idx on registrations (agency_id);


-- campaign_link_meta: a link of one webinar, distributed with it by target_webinar_id.
alter table registrations drop constraint registrations_campaign_link_fkey;
alter table campaign_link_meta
    drop constraint campaign_link_meta_pkey,
    drop constraint campaign_link_meta_id_target_webinar_id_key,
    drop constraint campaign_link_meta_target_webinar_id_client_id_fkey,
    add column agency_id uuid;
update campaign_link_meta l set agency_id = w.agency_id from webinars w where w.id = l.target_webinar_id;
alter table campaign_link_meta
    alter column agency_id set not null,
    add primary key (target_webinar_id, id),
    add foreign key (target_webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id);
alter table registrations
    add constraint registrations_campaign_link_fkey
    foreign key (webinar_id, campaign_link_id) references campaign_link_meta (target_webinar_id, id);
create index campaign_link_meta_agency_id_idx on campaign_link_meta (agency_id);


-- email_campaigns: keyed within its client; the target webinar is in another colocation group.
alter table email_campaigns
    drop constraint email_campaigns_pkey,
    drop constraint email_campaigns_target_webinar_id_client_id_fkey,
    add primary key (client_id, id);

alter table client_email_policies add column agency_id uuid;
update client_email_policies p set agency_id = c.agency_id from clients c where c.id = p.client_id;
alter table client_email_policies
    alter column agency_id set not null,
    drop constraint client_email_policies_client_id_fkey,
    add foreign key (client_id, agency_id) references clients (id, agency_id);
create index client_email_policies_agency_id_idx on client_email_policies (agency_id);

alter table marketing_stats_daily add column agency_id uuid;
update marketing_stats_daily m set agency_id = c.agency_id from clients c where c.id = m.client_id;
alter table marketing_stats_daily
    alter column agency_id set not null,
    drop constraint marketing_stats_daily_client_id_fkey,
    add foreign key (client_id, agency_id) references clients (id, agency_id);
create index marketing_stats_daily_agency_id_idx on marketing_stats_daily (agency_id);


-- notes and their comments: keyed within their client.
alter table note_comments drop constraint note_comments_note_id_fkey;
alter table notes
    drop constraint notes_pkey,
    drop constraint notes_webinar_id_client_id_fkey,
    drop constraint notes_client_id_fkey,
    add column agency_id uuid;
update notes n set agency_id = c.agency_id from clients c where c.id = n.client_id;
alter table notes
    alter column agency_id set not null,
    add primary key (client_id, id),
    add foreign key (client_id, agency_id) references clients (id, agency_id);
create index notes_agency_id_idx on notes (agency_id);

alter table note_comments add column client_id uuid, add column agency_id uuid;
update note_comments k set client_id = n.client_id, agency_id = n.agency_id from notes n where n.id = k.note_id;
alter table note_comments
    alter column client_id set not null,
    alter column agency_id set not null,
    drop constraint note_comments_pkey,
    add primary key (client_id, note_id, id),
    add foreign key (client_id, note_id) references notes (client_id, id) on delete cascade,
    add foreign key (client_id, agency_id) references clients (id, agency_id);
create index note_comments_agency_id_idx on note_comments (agency_id);


-- client_invitations: keyed within its client; a token is looked up within its client.
alter table client_invitations
    drop constraint client_invitations_pkey,
    drop constraint client_invitations_token_hash_key,
    drop constraint client_invitations_client_id_fkey,
    add column agency_id uuid;
update client_invitations i set agency_id = c.agency_id from clients c where c.id = i.client_id;
alter table client_invitations
    alter column agency_id set not null,
    add primary key (client_id, id),
    add unique (client_id, token_hash),
    add foreign key (client_id, agency_id) references clients (id, agency_id);
create index client_invitations_agency_id_idx on client_invitations (agency_id);
