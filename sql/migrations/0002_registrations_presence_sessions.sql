-- The participant hot path: who registered, who is connected now, and each viewing session.

create table registrations (
    webinar_id       uuid not null references webinars (id),
    user_id          uuid not null,
    display_name     text not null default '' check (length(display_name) <= 100),
    campaign_link_id uuid,
    registered_at    timestamptz not null default now(),
    primary key (webinar_id, user_id)
);
create index registrations_registered_at_idx on registrations (webinar_id, registered_at);

create table webinar_live_presence (
    webinar_id    uuid not null,
    user_id       uuid not null,
    client_id     uuid not null,
    agency_id     uuid not null,
    display_name  text not null default '' check (length(display_name) <= 100),
    session_id    uuid,
    joined_at     timestamptz not null default now(),
    last_seen_at  timestamptz not null default now(),
    primary key (webinar_id, user_id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
-- The live list and the sweep both ask "whose last ping is younger than the timeout".
create index webinar_live_presence_last_seen_idx on webinar_live_presence (webinar_id, last_seen_at);
create index webinar_live_presence_client_id_idx on webinar_live_presence (client_id);
create index webinar_live_presence_agency_id_idx on webinar_live_presence (agency_id);

create table webinar_user_sessions (
    webinar_id         uuid not null,
    session_id         uuid not null default gen_random_uuid(),
    user_id            uuid not null,
    client_id          uuid not null,
    agency_id          uuid not null,
    user_agent         text not null default '' check (length(user_agent) <= 500),
    entered_at         timestamptz not null default now(),
    last_heartbeat_at  timestamptz not null default now(),
    exited_at          timestamptz,
    primary key (webinar_id, session_id),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id),
    check (exited_at is null or exited_at >= entered_at)
);
create index webinar_user_sessions_user_idx on webinar_user_sessions (webinar_id, user_id);
create index webinar_user_sessions_open_idx on webinar_user_sessions (webinar_id, last_heartbeat_at)
    where exited_at is null;
create index webinar_user_sessions_client_id_idx on webinar_user_sessions (client_id);
create index webinar_user_sessions_agency_id_idx on webinar_user_sessions (agency_id);

-- Rolled up by a job from sessions; one row per webinar and 5-minute bucket.
create table webinar_access_logs (
    webinar_id          uuid not null,
    time_bucket         timestamptz not null
                        check (date_bin('5 minutes', time_bucket, timestamptz '2000-01-01') = time_bucket),
    client_id           uuid not null,
    agency_id           uuid not null,
    concurrent_viewers  integer not null default 0 check (concurrent_viewers >= 0),
    unique_viewers      integer not null default 0 check (unique_viewers >= 0),
    updated_at          timestamptz not null default now(),
    primary key (webinar_id, time_bucket),
    foreign key (webinar_id, client_id, agency_id) references webinars (id, client_id, agency_id)
);
create index webinar_access_logs_client_id_idx on webinar_access_logs (client_id);
create index webinar_access_logs_agency_id_idx on webinar_access_logs (agency_id);
