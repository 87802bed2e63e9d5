-- Duplicate login is told from the stats/access snapshot instead of a Redis marker per viewer:
-- a viewer's presence row names their newest session. A session opened by access/track claims
-- it; a ping or a 5-minute track of an older session only fills it in when it is empty (after
-- the sweep or an exit removed the row), so an old device cannot take it back. The snapshot,
-- rebuilt at most once a second per webinar, carries it, and a poll compares its session_id
-- with it in process memory: no database call and no Redis call per poll.

drop function mark_live(uuid, text);

create function mark_live(p_session_id uuid, p_display_name text, p_newest boolean)
    returns void
    language sql set search_path = pg_catalog, public
    as $$
    insert into webinar_live_presence as p
        (webinar_id, user_id, client_id, agency_id, display_name, session_id, joined_at, last_seen_at)
    select c.webinar, c.viewer, c.client, c.agency, p_display_name, p_session_id, now(), now()
    from participant_context() c
    on conflict (webinar_id, user_id) do update
        set last_seen_at = excluded.last_seen_at,
            display_name = excluded.display_name,
            session_id = case when p_newest then excluded.session_id
                              else coalesce(p.session_id, excluded.session_id) end
$$;

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
