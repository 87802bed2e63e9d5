-- Who may call the participant hot-path procedures of sql/functions/10_hot_path.sql. They run as
-- the caller, so the policies of 20_attendance.sql decide what they may touch; these grants only
-- keep them off every other role.

revoke all on function participant_context(), time_ordered_uuid(), mark_live(uuid, text, boolean),
    register_participant(text, uuid), ping_presence(uuid, text),
    track_access(uuid, text, text), exit_access(uuid)
    from public;
grant execute on function participant_context(), time_ordered_uuid(), mark_live(uuid, text, boolean),
    register_participant(text, uuid), ping_presence(uuid, text),
    track_access(uuid, text, text), exit_access(uuid)
    to eventflow_app;
