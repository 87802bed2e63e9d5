-- Tenancy: an agency has many clients; a webinar belongs to one client and that client's agency.
-- The composite unique keys let every webinar-scoped table prove, by foreign key, that the
-- org fields it carries are the webinar's own.

create table agencies (
    id          uuid primary key default gen_random_uuid(),
    name        text not null check (length(name) between 1 and 200),
    created_at  timestamptz not null default now()
);

create table clients (
    id          uuid primary key default gen_random_uuid(),
    agency_id   uuid not null references agencies (id),
    name        text not null check (length(name) between 1 and 200),
    created_at  timestamptz not null default now(),
    unique (id, agency_id)
);
create index clients_agency_id_idx on clients (agency_id);

create table webinars (
    id          uuid primary key default gen_random_uuid(),
    slug        text not null check (slug ~ '^[a-z0-9][a-z0-9-]{0,79}$'),
    client_id   uuid not null,
    agency_id   uuid not null,
    title       text not null check (length(title) between 1 and 300),
    description text not null default '',
    status      text not null default 'scheduled'
                check (status in ('draft', 'scheduled', 'live', 'ended', 'cancelled')),
    starts_at   timestamptz not null,
    ends_at     timestamptz not null,
    created_at  timestamptz not null default now(),
    check (ends_at > starts_at),
    unique (client_id, slug),
    unique (id, client_id),
    unique (id, client_id, agency_id),
    foreign key (client_id, agency_id) references clients (id, agency_id)
);
create index webinars_agency_id_idx on webinars (agency_id);
