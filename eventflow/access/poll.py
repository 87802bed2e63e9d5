"""The stats/access answer, made from a snapshot: what the Flask view and the fast lane both send.

Each answer is (status, headers, payload). The ETag is weak (the same viewers, whatever the
snapshot's build time), and the body is only built when the client does not have it already.
"""

from datetime import UTC, datetime

import orjson

# The answer changes every few seconds: a client may keep it, but must ask again each time.
CACHE_CONTROL = "private, no-cache"


def for_participant(snapshot, user_id, session_id, viewer_limit, if_none_match):
    """The count and at most `viewer_limit` viewers, the caller's own entry first; with the
    caller's session, whether a newer session of theirs has superseded it."""
    superseded = None if session_id is None else snapshot.superseded(user_id, session_id)
    return _conditional(
        f"{snapshot.version}-p{superseded}",
        if_none_match,
        lambda: _participant_body(snapshot, user_id, viewer_limit, superseded),
    )


def for_admin(snapshot, offset, limit, if_none_match):
    """Every viewer with their user_id, a page at a time."""
    return _conditional(
        f"{snapshot.version}-a{offset}-{limit}", if_none_match, lambda: _admin_body(snapshot, offset, limit)
    )


def _participant_body(snapshot, user_id, limit, superseded):
    """Others are shown without their user_id: a viewer's id is their account's, the same in
    every tenant."""
    own = snapshot.position_of(user_id)
    others = snapshot.anonymous_viewers(limit)
    if own is None:
        viewers = others
    else:
        viewers = [snapshot.viewer(own) | {"me": True}]
        viewers += [viewer for position, viewer in enumerate(others) if position != own][: limit - 1]
    return {
        "live_count": snapshot.live_count,
        "generated_at": _iso(snapshot.built_at),
        "viewers": viewers,
        "superseded": superseded,
    }


def _admin_body(snapshot, offset, limit):
    end = offset + limit
    return {
        "live_count": snapshot.live_count,
        "generated_at": _iso(snapshot.built_at),
        "viewers": snapshot.viewers(offset, limit),
        "offset": offset,
        "next_offset": end if end < snapshot.live_count else None,
    }


def _iso(epoch_seconds):
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).isoformat()


def _conditional(etag, if_none_match, build_body):
    headers = {"ETag": f'W/"{etag}"', "Cache-Control": CACHE_CONTROL}
    if if_none_match.contains_weak(etag):
        return 304, headers, b""
    headers["Content-Type"] = "application/json"
    return 200, headers, orjson.dumps(build_body())
