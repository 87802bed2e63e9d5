"""The open-loop load generator: `python -m bench.crowd PLAN.json OUT.json`, in its own process.

It replays one shard of the timetable (bench/schedule.py): every request is started at its
scheduled time, on asyncio (uvloop when installed) over a bounded pool of keep-alive connections
(bench/http1.py), whether or not earlier requests have returned. Latency is measured from the
scheduled time to the last byte of the answer, so time spent waiting for a connection or behind
a slow server counts (no coordinated omission). How late the generator itself started requests
(`dispatch lag`) is reported too: if it is large, the generator, not the server, was the limit.

Each viewer behaves like the real client: keeps the session_id from access/track and sends it
with ping, stats/access and exit; sends If-None-Match with the ETag of its last stats/access; in
fallback mode keeps its messages and questions cursors.
"""

import asyncio
import json
import sys
import time
from array import array
from urllib.parse import urlsplit

import orjson

from bench import http1, schedule

POST_JSON = {"Content-Type": "application/json"}
ADMIN_SECTIONS = "chat,qa,forms,giveaways,files,registrants,access,survey,sessions"
CURSOR_KEYS = ("next", "next_cursor", "cursor")
TICK_SECONDS = 0.001


class Actor:
    __slots__ = ("auth", "session_id", "cursors", "sent")

    def __init__(self, token, session_id=None):
        self.auth = {"Authorization": f"Bearer {token}"}
        self.session_id = session_id
        self.cursors = {}
        self.sent = 0


class Recorder:
    def __init__(self):
        self.latency_ms = {}  # "phase|kind" -> array of latencies
        self.status = {}  # "phase|kind" -> {status: count}
        self.lag_ms = array("f")

    def record(self, phase, kind, status, latency):
        key = f"{phase}|{kind}"
        self.latency_ms.setdefault(key, array("f")).append(latency * 1000.0)
        counts = self.status.setdefault(key, {})
        counts[str(status)] = counts.get(str(status), 0) + 1

    def to_json(self):
        return {
            "latency_ms": {kind: [round(v, 3) for v in values] for kind, values in self.latency_ms.items()},
            "status": self.status,
            "lag_ms": [round(v, 3) for v in self.lag_ms],
        }


def _cursor_from(body):
    if isinstance(body, dict):
        for key in CURSOR_KEYS:
            if body.get(key) is not None:
                return str(body[key])
    return None


class Generator:
    def __init__(self, plan, pool, recorder):
        self.ramp = plan["crowd"]["ramp"]
        self.base = f"/api/webinars/{plan['webinar_id']}"
        sessions = plan["viewer_sessions"]
        self.viewers = {int(i): Actor(t, sessions[i]) for i, t in plan["viewer_tokens"].items()}
        self.admins = {int(i): Actor(t) for i, t in plan["admin_tokens"].items()}
        self.pool = pool
        self.recorder = recorder

    async def send(self, kind, actor_index, scheduled, at):
        self.recorder.lag_ms.append((time.monotonic() - scheduled) * 1000.0)
        admin = kind in (schedule.ADMIN_STATS, schedule.ADMIN_STATS_ACCESS)
        actor = (self.admins if admin else self.viewers)[actor_index]
        method, url, headers, body, handle = self._request(kind, actor)
        try:
            answer = await self.pool.request(method, url, headers, body)
            status = answer.status
            handle(answer)
        except (OSError, TimeoutError) as exc:
            status = type(exc).__name__
        phase = "ramp" if at < self.ramp else "steady"
        self.recorder.record(phase, kind, status, time.monotonic() - scheduled)

    def _request(self, kind, actor):
        """(method, url, headers, body, what to do with the answer) for one request."""
        session = {"session_id": actor.session_id} if actor.session_id else {}
        body = orjson.dumps(session)
        post_headers = {**actor.auth, **POST_JSON}

        def ignore(answer):
            pass

        if kind in (schedule.TRACK, schedule.TRACK_REFRESH):

            def keep_session(answer):
                if answer.status in (200, 201):
                    actor.session_id = orjson.loads(answer.body)["session_id"]

            track = {**session, "user_agent": "eventflow-bench/1.0"}
            if kind == schedule.TRACK:
                track.pop("session_id", None)
                actor.cursors.clear()  # a fresh page load: no ETag, no cursor
            return "POST", f"{self.base}/access/track", post_headers, orjson.dumps(track), keep_session
        if kind == schedule.REGISTER:
            return "POST", f"{self.base}/register", post_headers, b"{}", ignore
        if kind in (schedule.PING, schedule.FIRST_PING):
            return "POST", f"{self.base}/presence/ping", post_headers, body, ignore
        if kind == schedule.EXIT:

            def forget_session(answer):
                actor.session_id = None

            return "POST", f"{self.base}/access/exit", post_headers, body, forget_session
        if kind in (schedule.STATS_ACCESS, schedule.FIRST_STATS_ACCESS, schedule.ADMIN_STATS_ACCESS):
            return "GET", self._with_query(f"{self.base}/stats/access", session), *self._etagged(actor)
        if kind == schedule.ADMIN_STATS:
            return "GET", f"{self.base}/stats?sections={ADMIN_SECTIONS}", actor.auth, None, ignore
        if kind in (schedule.MESSAGES, schedule.QUESTIONS):
            return "GET", *self._poll(actor, "messages" if kind == schedule.MESSAGES else "questions")
        if kind in (schedule.POST_MESSAGE, schedule.POST_QUESTION):
            actor.sent += 1
            path = "messages" if kind == schedule.POST_MESSAGE else "questions"
            text = orjson.dumps({"body": f"bench {path} #{actor.sent}: is the slide deck shared after?"})
            return "POST", f"{self.base}/{path}", post_headers, text, ignore
        raise ValueError(kind)

    @staticmethod
    def _with_query(url, params):
        return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")

    @staticmethod
    def _etagged(actor, key="stats"):
        headers = dict(actor.auth)
        etag = actor.cursors.get(f"etag:{key}")
        if etag:
            headers["If-None-Match"] = etag

        def keep_etag(answer):
            if answer.status == 200 and answer.etag:
                actor.cursors[f"etag:{key}"] = answer.etag

        return headers, None, keep_etag

    def _poll(self, actor, path):
        cursor = actor.cursors.get(path)
        url = self._with_query(f"{self.base}/{path}", {"after": cursor} if cursor else {})
        headers, _, keep_etag = self._etagged(actor, path)

        def keep_cursor(answer):
            keep_etag(answer)
            if answer.status == 200 and answer.body:
                cursor = _cursor_from(orjson.loads(answer.body))
                if cursor is not None:
                    actor.cursors[path] = cursor

        return url, headers, None, keep_cursor


async def drive(plan, recorder):
    crowd = schedule.Crowd(**plan["crowd"])
    events = schedule.timetable(crowd, plan["shard"], plan["shards"])
    server = urlsplit(plan["base_url"])
    pool = http1.Pool(server.hostname, server.port, plan["connections"], plan["timeout"])
    await pool.open()
    generator = Generator(plan, pool, recorder)
    # Start at the same wall-clock instant as the other shards.
    start = time.monotonic() + max(0.0, plan["start_at"] - time.time())
    tasks = set()
    index = 0
    while index < len(events):
        now = time.monotonic() - start
        while index < len(events) and events[index][0] <= now:
            at, kind, actor = events[index]
            task = asyncio.create_task(generator.send(kind, actor, start + at, at))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            index += 1
        if index < len(events):
            # Never less than the loop's 1 ms timer resolution: shorter sleeps return at once,
            # and the loop would spin instead of sleeping. Requests due meanwhile are started
            # together, their wait counted in their latency (which runs from the scheduled time).
            await asyncio.sleep(max(TICK_SECONDS, events[index][0] - (time.monotonic() - start)))
    if tasks:
        await asyncio.wait(tasks, timeout=plan["timeout"] + 1)
    pool.close()


def main(plan_path, out_path):
    with open(plan_path) as f:
        plan = json.load(f)
    recorder = Recorder()
    try:
        import uvloop

        uvloop.run(drive(plan, recorder))
    except ImportError:
        asyncio.run(drive(plan, recorder))
    with open(out_path, "wb") as f:
        f.write(orjson.dumps(recorder.to_json()))


if __name__ == "__main__":
    main(*sys.argv[1:3])
