-- track_access registered the caller with its own copy of register_participant's insert; two
-- copies of "how a participant registers" drift apart (a campaign link, a new column, a policy).
-- It now calls register_participant, the one place that writes a registration. Same signature,
-- same behaviour: registers the caller if needed (without a campaign link), `registered` true
-- only when this call did, then refreshes or opens the session and marks the caller live.
-- CREATE OR REPLACE keeps the grants of sql/policies/25_hot_path_functions.sql.

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
    perform mark_live(track_access.session_id, p_display_name);
end
$$;
