"""What a presence write asks of PostgreSQL: heartbeat-only writes commit without waiting for
their WAL flush, writes that open or close a session or register wait as usual."""

import uuid

import pytest

from eventflow import db

# One statement: the procedure, then what its own transaction's commit will do.
CALL_THEN_SETTING = "select ({call}) is not null as called, current_setting('synchronous_commit') as commit_mode"


@pytest.fixture
def viewer(make_tenant):
    tenant = make_tenant()
    return db.RequestContext(
        user_id=uuid.uuid4(),
        role="participant",
        client_id=tenant.client_id,
        agency_id=tenant.agency_id,
        webinar_id=tenant.webinar_id,
    )


def commit_mode(run_as, context, call, params):
    return run_as(context, CALL_THEN_SETTING.format(call=call), params).one["commit_mode"]


def test_only_heartbeats_skip_the_flush(run_as, viewer):
    track = "select session_id from track_access(%(session)s, 'Viewer', 'test')"
    assert commit_mode(run_as, viewer, track, {"session": None}) == "on", "entry: registers and opens a session"
    session = run_as(viewer, "select session_id from track_access(null, 'Viewer', 'test')").one["session_id"]
    assert session.version == 7, "sessions get time-ordered ids"
    assert commit_mode(run_as, viewer, track, {"session": session}) == "off", "a 5-minute refresh is a heartbeat"
    ping = "select ping_presence(%(session)s, 'Viewer')"
    assert commit_mode(run_as, viewer, ping, {"session": session}) == "off"
    assert commit_mode(run_as, viewer, ping, {"session": None}) == "off"
    register = "select register_participant('Viewer', null)"
    assert commit_mode(run_as, viewer, register, {}) == "on"
    exit_ = "select sessions_closed from exit_access(%(session)s)"
    assert commit_mode(run_as, viewer, exit_, {"session": session}) == "on"
