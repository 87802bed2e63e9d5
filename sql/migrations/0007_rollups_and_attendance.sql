-- What the rollup jobs keep ready for the dashboard: per-viewer attendance, the watermarks that
-- make every rollup incremental, the one definition of "attended", and the indexes the jobs
-- use to find what changed since their last run.

-- One row per viewer (a user with at least one session) of a webinar, recomputed by the
-- attendance job from that viewer's sessions. A session spans [entered_at, coalesce(exited_at,
-- last_heartbeat_at)]; overlapping or touching sessions of one viewer are merged before their
-- watch time is summed, and every gap between merged spans is one rejoin.
create table webinar_attendance (
    webinar_id     uuid not null,
    user_id        uuid not null,
    client_id      uuid not null,
    agency_id      uuid not null,
    first_join_at  timestamptz not null,
    last_leave_at  timestamptz not null,
    watch_seconds  integer not null check (watch_seconds >= 0),
    sessions       integer not null check (sessions >= 1),
    rejoins        integer not null check (rejoins >= 0),
    updated_at     timestamptz not null default now(),
    primary key (webinar_id, user_id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id),
    check (last_leave_at >= first_join_at)
);
create index webinar_attendance_client_id_idx on webinar_attendance (client_id);
create index webinar_attendance_agency_id_idx on webinar_attendance (agency_id);
-- The marketing rollup finds attendance that changed since its last run.
create index webinar_attendance_updated_at_idx on webinar_attendance (updated_at);

-- Where a session ends for every figure: its exit, or while open its last heartbeat. It never
-- moves backwards (heartbeats stop at exit; exit and the sweep close at or after the last
-- heartbeat), so "sessions that ended after the last run" is what changed.
create index webinar_user_sessions_end_idx
    on webinar_user_sessions ((coalesce(exited_at, last_heartbeat_at)));
-- The marketing rollup: registrations through a campaign link, new since its last run.
create index registrations_campaign_registered_at_idx
    on registrations (registered_at) where campaign_link_id is not null;
create index registrations_campaign_link_idx
    on registrations (campaign_link_id, registered_at) where campaign_link_id is not null;
create index email_campaigns_sent_at_idx on email_campaigns (sent_at) where status = 'sent';

-- Job bookkeeping, for eventflow_worker only: outside `public`, which holds tenant data.
create schema rollup;

-- How far each rollup has read: the next run starts from `processed_until` minus an overlap.
create table rollup.watermarks (
    job              text primary key check (length(job) between 1 and 100),
    processed_until  timestamptz not null,
    updated_at       timestamptz not null default now()
);

-- "Attended": a viewer (watch_seconds not null) who watched at least `share` of the webinar's
-- scheduled length (ends_at - starts_at). The dashboard, the attendance export and the marketing
-- rollup all ask this one function.
create function rollup.attended(watch_seconds integer, starts_at timestamptz, ends_at timestamptz,
                                share numeric)
    returns boolean
    language sql immutable set search_path = pg_catalog
    as $$ select watch_seconds is not null and watch_seconds >= ceil(share * extract(epoch from ends_at - starts_at)) $$;
