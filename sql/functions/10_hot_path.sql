-- The participant hot path as stored procedures: each request is one call, in the request's
-- transaction, after its context. They run as the caller (SECURITY INVOKER), so the policies
-- in sql/policies/20_attendance.sql still decide every row they touch. Who and where come from
-- the context (app.participant_id(), app.participant_webinar_id()), never from arguments.
--
-- Re-applied by every `db upgrade` (create or replace). Every statement names its webinar_id as
-- a plain value, so that on Citus each one is routed to the one shard that holds the webinar.
-- Who may call them: sql/policies/25_hot_path_functions.sql.

create or replace function participant_context(out webinar uuid, out viewer uuid, out client uuid, out agency uuid)
    language plpgsql stable set search_path = pg_catalog, public
    as $$
begin
    webinar := app.participant_webinar_id();
    viewer := app.participant_id();
    client := app.setting('app.client_id')::uuid;
    agency := app.setting('app.agency_id')::uuid;
    if webinar is null or viewer is null or client is null or agency is null then
        raise exception 'the hot path needs a participant context' using errcode = 'insufficient_privilege';
    end if;
end
$$;


-- Session ids are time-ordered: UUID version 7, whose first 48 bits are the Unix time of the
-- opening in milliseconds (the rest random, as gen_random_uuid's). The stats/access snapshot
-- reads that time to tell a session younger than itself (a device that has just tracked, which
-- the snapshot cannot know yet) from one that another device superseded, without asking
-- PostgreSQL (eventflow/access/snapshot.py).
create or replace function time_ordered_uuid()
    returns uuid
    language sql volatile set search_path = pg_catalog, public
    as $$
    select encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                    from 1 for 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;


-- Marks the caller live: one upsert of their presence row. The row keeps the first join time
-- while it lives; the sweep removes it after the presence timeout, and a later ping starts anew.
-- It also names the viewer's newest session, from which duplicate login is told (the
-- stats/access snapshot carries it): a session opened by access/track claims it (p_newest); a
-- ping or a 5-minute track of an older session only fills it in when it is empty, so an old
-- device cannot take it back.
create or replace function mark_live(p_session_id uuid, p_display_name text, p_newest boolean)
    returns void
    language plpgsql set search_path = pg_catalog, public
    as $$
declare
    c record := participant_context();
begin
    insert into webinar_live_presence as p
        (webinar_id, user_id, client_id, agency_id, display_name, session_id, joined_at, last_seen_at)
    values (c.webinar, c.viewer, c.client, c.agency, p_display_name, p_session_id, now(), now())
    on conflict (webinar_id, user_id) do update
        set last_seen_at = excluded.last_seen_at,
            display_name = excluded.display_name,
            session_id = case when p_newest then excluded.session_id
                              else coalesce(p.session_id, excluded.session_id) end;
end
$$;


-- POST /register: true when this call registered the caller, false when they already were.
create or replace function register_participant(p_display_name text, p_campaign_link_id uuid)
    returns boolean
    language plpgsql set search_path = pg_catalog, public
    as $$
declare
    c record := participant_context();
begin
    insert into registrations (webinar_id, user_id, client_id, agency_id, display_name, campaign_link_id)
    values (c.webinar, c.viewer, c.client, c.agency, p_display_name, p_campaign_link_id)
    on conflict (webinar_id, user_id) do nothing;
    return found;
end
$$;


-- Every writer of a viewer's rows locks them in one order: registration, session, presence
-- (track_access, ping_presence, exit_access). A track and a ping of one session sent together
-- then queue behind each other instead of deadlocking (PostgreSQL would fail one of them).
--
-- Heartbeat-only writes commit without waiting for their WAL flush (synchronous_commit off, for
-- their own transaction only): a ping, and a 5-minute track that refreshes an open session. A
-- crash of PostgreSQL may lose the last moments of them (up to three wal_writer_delay, 0.6 s by
-- default), i.e. a viewer's last heartbeat or live mark, which their next ping restores; never a
-- registration, a session opened (a track that opens one) or closed (exit): those commit as
-- usual. Nothing is reordered: the write is committed and visible at once, only its flush to disk
-- is left to the WAL writer.


-- POST /presence/ping, every 120 s: with a session, its heartbeat; then presence.
-- Returns whether that session was open and refreshed.
create or replace function ping_presence(p_session_id uuid, p_display_name text)
    returns boolean
    language plpgsql set search_path = pg_catalog, public
    as $$
declare
    c record := participant_context();
    refreshed boolean := false;
begin
    perform set_config('synchronous_commit', 'off', true);
    if p_session_id is not null then
        update webinar_user_sessions
        set last_heartbeat_at = now()
        where webinar_id = c.webinar and session_id = p_session_id and user_id = c.viewer and exited_at is null;
        refreshed := found;
    end if;
    perform mark_live(p_session_id, p_display_name, false);
    return refreshed;
end
$$;


-- POST /access/track, on entry and every 5 min: refreshes the caller's open session, or opens a
-- new one when none is given or the given one is not open (closed by exit or the sweep, or not
-- theirs). Registers the caller if needed (through register_participant, the one place that
-- writes a registration) and marks them live.
create or replace function track_access(p_session_id uuid, p_display_name text, p_user_agent text,
                                        out session_id uuid, out opened boolean, out registered boolean)
    language plpgsql set search_path = pg_catalog, public
    as $$
declare
    c record := participant_context();
begin
    registered := register_participant(p_display_name, null);

    update webinar_user_sessions s
    set last_heartbeat_at = now()
    where s.webinar_id = c.webinar and s.session_id = p_session_id and s.user_id = c.viewer
      and s.exited_at is null
    returning s.session_id into track_access.session_id;
    opened := track_access.session_id is null;
    if opened then
        insert into webinar_user_sessions as s (session_id, webinar_id, user_id, client_id, agency_id, user_agent)
        values (time_ordered_uuid(), c.webinar, c.viewer, c.client, c.agency, p_user_agent)
        returning s.session_id into track_access.session_id;
    elsif not registered then
        perform set_config('synchronous_commit', 'off', true);  -- a heartbeat only
    end if;
    perform mark_live(track_access.session_id, p_display_name, opened);
end
$$;


-- POST /access/exit: closes the given session (all the caller's open sessions without one) and
-- takes the caller off the live list unless their presence belongs to another, newer session.
create or replace function exit_access(p_session_id uuid, out sessions_closed integer, out left_live boolean)
    language plpgsql set search_path = pg_catalog, public
    as $$
declare
    c record := participant_context();
begin
    update webinar_user_sessions
    set exited_at = greatest(now(), entered_at)
    where webinar_id = c.webinar and user_id = c.viewer and exited_at is null
      and (p_session_id is null or session_id = p_session_id);
    get diagnostics sessions_closed = row_count;

    delete from webinar_live_presence
    where webinar_id = c.webinar and user_id = c.viewer
      and (p_session_id is null or session_id is null or session_id = p_session_id);
    left_live := found;
end
$$;
