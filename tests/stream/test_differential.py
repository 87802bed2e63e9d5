"""For every caller, the rows a stream client receives equal, in order, the rows its polls return.

Random histories of a webinar's chat and Q&A (tests/chat/test_window_differential.py's: posts,
hides, private and public questions, answers, pins, upvotes, by participants and both kinds of
admin). Every caller (participants who wrote, who only upvoted, who never did anything; a client
and an agency admin) holds a stream from the start and polls both feeds; after every change each
caller polls until caught up and waits until its stream's cursor is the polls' `next`: the rows
(and the removed ids) each received since the last time must be the same, in the same order.
(After every change: a poll after two changes of one row returns it once, where the stream,
live, sent it after each.)
"""

import json
import random
import time

import pytest

from eventflow.limits import limiter
from tests.chat.test_window_differential import History

CHANGES = 40
FEEDS = ("messages", "questions")
ROW_EVENTS = {"message": "messages", "question": "questions"}


def _poll_until_current(client, url, headers, cursors, heads):
    """Rows and removed ids of both feeds after `cursors` up to the feeds' `heads`, poll after
    poll (a poll may answer from a window one burst behind, as the polls may); moves the cursors."""
    received = {feed: {"rows": [], "removed": []} for feed in FEEDS}
    for feed in FEEDS:
        deadline = time.monotonic() + 10
        while int(cursors[feed]) < heads.get(feed, 0):
            assert time.monotonic() < deadline, f"the {feed} polls did not reach {heads}"
            page = client.get(f"{url}/{feed}", query_string={"after": cursors[feed], "limit": 200}, headers=headers)
            assert page.status_code == 200, page.json
            received[feed]["rows"] += page.json[feed]
            received[feed]["removed"] += page.json["removed"]
            if page.json["next"] == cursors[feed]:
                time.sleep(0.05)  # a window being refilled elsewhere: within the rate limit, wait for it
            cursors[feed] = page.json["next"]
    return received


def _streamed(events):
    received = {feed: {"rows": [], "removed": []} for feed in FEEDS}
    for event in events:
        kind = event.get("event")
        if kind in ROW_EVENTS:
            received[ROW_EVENTS[kind]]["rows"].append(json.loads(event["data"]))
        elif kind == "removed":
            removed = json.loads(event["data"])
            received[removed["feed"]]["removed"] += removed["ids"]
    return received


@pytest.mark.parametrize("seed", [3, 8])
def test_every_caller_streams_the_rows_its_polls_return(seed, client, make_tenant, open_stream, owner):
    rng = random.Random(seed)
    tenant = make_tenant()
    participants = [tenant.participant(name=f"Viewer {n}")[1] for n in range(5)]
    writers, voters = participants[:3], participants[1:4]  # participants[4] never does anything
    history = History(rng, client, tenant, writers, voters)
    callers = participants + history.admins
    url = f"/api/webinars/{tenant.webinar_id}"
    streams = [open_stream(tenant.webinar_id, caller) for caller in callers]
    cursors = [dict.fromkeys(FEEDS, "0") for _ in callers]

    rows_compared = 0
    for _ in range(CHANGES):
        with client.application.app_context():
            limiter.reset()  # the test writes and polls far faster than any client may
        history.step()
        heads = {
            row["feed"]: row["seq"]
            for row in owner.execute("select feed, seq from chat_feeds where webinar_id = %s", (tenant.webinar_id,))
        }
        for caller, stream, cursor in zip(callers, streams, cursors, strict=True):
            polled = _poll_until_current(client, url, caller, cursor, heads)
            streamed = _streamed(stream.until_cursor(f"{cursor['messages']}:{cursor['questions']}"))
            assert streamed == polled
            rows_compared += sum(len(polled[feed]["rows"]) for feed in FEEDS)

    assert rows_compared > 60, "too few rows for the comparison to mean something"
    assert history.votes > 3, "too few upvotes for `upvoted` to be compared"
