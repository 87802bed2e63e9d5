"""The change window answers every caller exactly as PostgreSQL does.

Random histories of a webinar's chat and Q&A (posts, hides and unhides, private and public
questions, answers, pins, upvotes and withdrawn upvotes, by participants and both kinds of
admin), and after every few changes random callers (participants who wrote, who only upvoted,
who never did anything; client and agency admins; admins of another tenant) poll both feeds at
random cursors, limits and statuses through two apps on the same database and Redis: one
answering from the window (small, so that some cursors fall before it), one with the window off
and no fast lane, whose every behind-the-marker poll reads PostgreSQL. The two answers must be
identical, status and body, `removed` and `next` included; enough of them must have come from
the window for the comparison to mean something.
"""

import random

import pytest
from prometheus_client import REGISTRY

from eventflow.chat.window import METRIC_NAME
from eventflow.limits import limiter

WINDOW_CHANGES = 12
ROUNDS = 18
STATUSES = (None, "pending", "answered", "hidden")
LIMITS = (1, 2, 3, 7, 50)


def _window_hits():
    return REGISTRY.get_sample_value("eventflow_cache_hits_total", {"cache": METRIC_NAME}) or 0


class History:
    """Random changes to one webinar's chat and Q&A, made through the API."""

    def __init__(self, rng, client, tenant, writers, voters):
        self.rng, self.client, self.webinar_id = rng, client, tenant.webinar_id
        self.writers, self.voters = writers, voters
        self.admins = [tenant.client_admin(), tenant.agency_admin()]
        self.messages, self.questions = [], []
        self.for_everyone = set()  # questions last seen answered and public: most votes go there
        self.votes = 0

    def url(self, suffix):
        return f"/api/webinars/{self.webinar_id}/{suffix}"

    def step(self):
        rng = self.rng
        action = rng.choice(["post", "post", "moderate_message", "ask", "ask"] + ["moderate_question", "vote"] * 3)
        if action == "moderate_message" and self.messages:
            change = {"hidden": rng.random() < 0.6}
            response = self.client.patch(
                self.url(f"messages/{rng.choice(self.messages)}"), json=change, headers=rng.choice(self.admins)
            )
            assert response.status_code == 200, response.json
        elif action == "ask":
            body = {"body": f"question {len(self.questions)}", "is_public": rng.random() < 0.7}
            response = self.client.post(self.url("questions"), json=body, headers=rng.choice(self.writers))
            assert response.status_code == 201, response.json
            self.questions.append(response.json["id"])
        elif action == "moderate_question" and self.questions:
            change = rng.choice(
                [{"answer": "Yes."}, {"answer": "No.", "pinned": True}, {"hidden": True}, {"hidden": False}]
                + [{"pinned": True}, {"pinned": False}, {"hidden": False, "pinned": False}]
            )
            response = self.client.patch(
                self.url(f"questions/{rng.choice(self.questions)}"), json=change, headers=rng.choice(self.admins)
            )
            assert response.status_code == 200, response.json
            question = response.json
            if question["status"] == "answered" and question["is_public"]:
                self.for_everyone.add(question["id"])
            else:
                self.for_everyone.discard(question["id"])
        elif action == "vote" and self.questions:
            voter = rng.choice(self.voters)
            targets = sorted(self.for_everyone) if self.for_everyone and rng.random() < 0.8 else self.questions
            path = self.url(f"questions/{rng.choice(targets)}/upvote")
            response = (self.client.post if rng.random() < 0.7 else self.client.delete)(path, headers=voter)
            assert response.status_code in (200, 404), response.json  # 404: a question the voter cannot see
            self.votes += response.status_code == 200
        else:
            author = rng.choice(self.writers + self.admins)
            body = {"body": f"message {len(self.messages)}"}
            response = self.client.post(self.url("messages"), json=body, headers=author)
            assert response.status_code == 201, response.json
            self.messages.append(response.json["id"])


@pytest.mark.parametrize("seed", [11, 29])
def test_the_window_answers_every_caller_as_postgres_does(seed, make_app, make_tenant, owner):
    rng = random.Random(seed)
    cached = make_app(feed_window_changes=WINDOW_CHANGES).test_client()
    reference_app = make_app(feed_window_changes=0)
    # Without the fast lane, whose marker may be up to feed_marker_recent_seconds behind the
    # writes the other app makes: the reference reads Redis's marker at every poll.
    reference_app.wsgi_app = reference_app.wsgi_app.next
    reference = reference_app.test_client()
    tenant, stranger = make_tenant(), make_tenant()
    participants = [tenant.participant(name=f"Viewer {n}")[1] for n in range(6)]
    writers, voters = participants[:3], participants[1:5]  # participants[5] never does anything
    history = History(rng, cached, tenant, writers, voters)
    callers = participants + history.admins + [stranger.client_admin(), stranger.agency_admin()]

    compared, from_window = 0, 0
    for _ in range(ROUNDS):
        with cached.application.app_context():
            limiter.reset()  # the test polls far faster than any client may
        for _ in range(rng.randint(1, 5)):
            history.step()
        heads = {
            row["feed"]: row["seq"]
            for row in owner.execute("select feed, seq from chat_feeds where webinar_id = %s", (tenant.webinar_id,))
        }
        for caller in callers:
            for feed_name in ("messages", "questions"):
                query = {"after": rng.randint(0, heads.get(feed_name, 0)), "limit": rng.choice(LIMITS)}
                if feed_name == "questions" and (status := rng.choice(STATUSES)) is not None:
                    query["status"] = status
                hits = _window_hits()
                mine = cached.get(history.url(feed_name), query_string=query, headers=caller)
                from_window += _window_hits() - hits
                theirs = reference.get(history.url(feed_name), query_string=query, headers=caller)
                assert (mine.status_code, mine.json) == (theirs.status_code, theirs.json), (feed_name, query)
                compared += 1

    assert from_window >= compared / 3, f"only {from_window} of {compared} answers came from the window"
    assert from_window < compared, "no answer came from PostgreSQL: the comparison never crossed the window's edge"
    assert min(heads.values()) > WINDOW_CHANGES, "a feed too short for a cursor to fall before its window"
    assert history.votes > 3, "too few upvotes for `upvoted` to be compared"
