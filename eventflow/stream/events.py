"""The stream's wire format (text/event-stream) and its cursor.

An event's `id:` is the stream's cursor, both feeds' positions as "<messages>:<questions>", each
the same number a poll's `next` gives: the client hands it back as Last-Event-ID (or `?after=`)
and the stream resumes exactly after what it sent. When a feed's position moves with nothing for
this caller (changes they cannot see), an `id:` line alone moves the client's cursor: it updates
EventSource's lastEventId without dispatching an event.
"""

import re

import orjson

from eventflow.chat import feed

FEEDS = (feed.MESSAGES, feed.QUESTIONS)
CURSOR = re.compile(r"\A([0-9]{1,15}):([0-9]{1,15})\Z")
# The EventSource's reconnection delay, sent first: a dropped stream is back within it.
RETRY_MILLISECONDS = 2000
# On a graceful reload clients come back soon, spread over this long by their own jitter.
RELOAD_RETRY_MILLISECONDS = 500
HEARTBEAT = b": keep-alive\n\n"
# The event kind of one changed row of each feed.
ROW_EVENTS = {feed.MESSAGES: "message", feed.QUESTIONS: "question"}


def parse_cursor(text):
    """{feed: position} of a cursor, or None if `text` is not one."""
    match = CURSOR.match(text)
    return None if match is None else dict(zip(FEEDS, map(int, match.groups()), strict=True))


def format_cursor(cursors):
    return f"{cursors[feed.MESSAGES]}:{cursors[feed.QUESTIONS]}"


def event(kind, data, cursors=None):
    """One event: `data` is a JSON-able value or JSON bytes already made."""
    payload = data if isinstance(data, bytes) else orjson.dumps(data)
    head = b"" if cursors is None else f"id: {format_cursor(cursors)}\n".encode()
    return head + b"event: " + kind.encode() + b"\ndata: " + payload + b"\n\n"


def cursor_only(cursors):
    return f"id: {format_cursor(cursors)}\n\n".encode()


def retry(milliseconds):
    return f"retry: {milliseconds}\n\n".encode()
