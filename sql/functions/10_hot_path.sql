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


-- POST /presence/ping, every 120 s: presence and, with a session, its heartbeat.
-- Returns whether that session was open and refreshed.
create or replace function ping_presence(p_session_id uuid, p_display_name text)
    returns boolean
    language plpgsql set search_path = pg_catalog, public
    as $$
declare
    c record := participant_context();
begin
    perform mark_live(p_session_id, p_display_name, false);
    if p_session_id is null then
        return false;
    end if;
    update webinar_user_sessions
    set last_heartbeat_at = now()
    where webinar_id = c.webinar and session_id = p_session_id and user_id = c.viewer and exited_at is null;
    return found;
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
        insert into webinar_user_sessions as s (webinar_id, user_id, client_id, agency_id, user_agent)
        values (c.webinar, c.viewer, c.client, c.agency, p_user_agent)
        returning s.session_id into track_access.session_id;
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
