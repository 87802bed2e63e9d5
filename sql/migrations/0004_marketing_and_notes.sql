-- Client-level data: email campaigns and their policy, campaign links, the daily marketing
-- rollup, internal notes and invitations of new client admins.

create table email_campaigns (
    id                 uuid primary key default gen_random_uuid(),
    client_id          uuid not null,
    agency_id          uuid not null,
    target_webinar_id  uuid,
    subject            text not null check (length(subject) between 1 and 300),
    status             text not null default 'draft' check (status in ('draft', 'scheduled', 'sending', 'sent')),
    recipients_count   integer not null default 0 check (recipients_count >= 0),
    sent_at            timestamptz,
    created_at         timestamptz not null default now(),
    foreign key (client_id, agency_id) references clients (id, agency_id),
    foreign key (target_webinar_id, client_id) references webinars (id, client_id)
);
create index email_campaigns_client_id_idx on email_campaigns (client_id, sent_at);
create index email_campaigns_agency_id_idx on email_campaigns (agency_id);

create table client_email_policies (
    client_id           uuid primary key references clients (id),
    sender_name         text not null check (length(sender_name) between 1 and 200),
    sender_email        text not null check (sender_email ~ '^[^@\s]+@[^@\s]+$'),
    daily_send_limit    integer not null default 10000 check (daily_send_limit >= 0),
    unsubscribe_footer  text not null default '',
    updated_at          timestamptz not null default now()
);

-- A tracked link of a marketing campaign; registrations carry the link they came through.
create table campaign_link_meta (
    id                 uuid primary key default gen_random_uuid(),
    client_id          uuid not null references clients (id),
    campaign_id        uuid not null,
    target_webinar_id  uuid not null,
    utm_source         text not null default '',
    utm_medium         text not null default '',
    utm_campaign       text not null default '',
    created_at         timestamptz not null default now(),
    foreign key (target_webinar_id, client_id) references webinars (id, client_id)
);
create index campaign_link_meta_client_id_idx on campaign_link_meta (client_id);
create index campaign_link_meta_campaign_idx on campaign_link_meta (campaign_id);
create index campaign_link_meta_webinar_idx on campaign_link_meta (target_webinar_id);

alter table registrations
    add foreign key (campaign_link_id) references campaign_link_meta (id);

create table marketing_stats_daily (
    client_id      uuid not null references clients (id),
    day            date not null,
    campaign_id    uuid not null,
    registrations  integer not null default 0 check (registrations >= 0),
    attendees      integer not null default 0 check (attendees >= 0),
    emails_sent    integer not null default 0 check (emails_sent >= 0),
    updated_at     timestamptz not null default now(),
    primary key (client_id, day, campaign_id)
);

create table notes (
    id          uuid primary key default gen_random_uuid(),
    client_id   uuid not null references clients (id),
    webinar_id  uuid,
    author_id   uuid not null,
    body        text not null check (length(body) between 1 and 10000),
    created_at  timestamptz not null default now(),
    foreign key (webinar_id, client_id) references webinars (id, client_id)
);
create index notes_client_id_idx on notes (client_id);

create table note_comments (
    note_id     uuid not null references notes (id) on delete cascade,
    id          uuid not null default gen_random_uuid(),
    author_id   uuid not null,
    body        text not null check (length(body) between 1 and 4000),
    created_at  timestamptz not null default now(),
    primary key (note_id, id)
);

create table client_invitations (
    id           uuid primary key default gen_random_uuid(),
    client_id    uuid not null references clients (id),
    email        text not null check (email ~ '^[^@\s]+@[^@\s]+$'),
    invited_by   uuid not null,
    token_hash   text not null unique,
    expires_at   timestamptz not null,
    accepted_at  timestamptz,
    created_at   timestamptz not null default now()
);
create index client_invitations_client_id_idx on client_invitations (client_id);
