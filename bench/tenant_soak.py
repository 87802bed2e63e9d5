"""Tenant-leak soak: many threads, random tenants and roles, every row checked against its scope.

    python bench/tenant_soak.py [--requests 100000] [--threads 16]

Starts a private PostgreSQL and Redis (the embedded default, in a temporary directory), migrates,
seeds the demo twice over (four agencies, eight clients, sixteen webinars), runs the app under
gunicorn with production settings, and then sends requests as randomly chosen participants,
client admins and agency admins to randomly chosen webinars — their own and others'. Every
answer is checked: a webinar outside an admin's scope must be 404 (a participant may enter any
webinar by its URL and must see only what a viewer of it may see), every webinar listed must be
in scope, every viewer on a live list must be a viewer of that webinar, every message and
question returned must belong to the webinar in the URL and be one the caller may see.
Prints the counts; exits 1 on any mismatch.
"""

import argparse
import http.client
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from eventflow import auth  # noqa: E402
from eventflow.config import Settings  # noqa: E402
from eventflow.embedded import EmbeddedServices  # noqa: E402
from eventflow.migrations import upgrade  # noqa: E402
from eventflow.seed import seed_demo  # noqa: E402
from eventflow.serve import start_web  # noqa: E402

SECRET = "soak-" + "x" * 64
PORT = 8765


def start(state_dir):
    services = EmbeddedServices(state_dir)
    owner_url = services.start_postgres()
    redis_url = services.start_redis()
    upgrade(owner_url, log=lambda message: None)
    for _ in range(2):
        seed_demo(owner_url, SECRET, "eventflow")
    settings = Settings.from_env(
        {},
        database_url=services.role_url(owner_url, "eventflow_app"),
        worker_database_url=services.role_url(owner_url, "eventflow_worker"),
        database_owner_url=owner_url,
        redis_url=redis_url,
        jwt_secret=SECRET,
        state_dir=state_dir,
    )
    server = start_web(settings, f"127.0.0.1:{PORT}", workers=2)
    return services, owner_url, server


class World:
    """What the owner knows: every webinar's tenant, viewers, messages and questions."""

    def __init__(self, owner_url):
        with psycopg.connect(owner_url) as conn:
            self.webinars = {
                row[0]: (row[1], row[2]) for row in conn.execute("select id, client_id, agency_id from webinars")
            }
            self.viewers = {}
            for webinar_id, user_id in conn.execute("select webinar_id, user_id from registrations"):
                self.viewers.setdefault(webinar_id, []).append(user_id)
            self.clients = {row[0]: row[1] for row in conn.execute("select id, agency_id from clients")}
        self.owner_url = owner_url

    def in_scope(self, caller, webinar_id):
        """Participants may enter any webinar by its URL (contract §1): their scope is that
        webinar's shared rows and their own personal rows, which the data checks verify."""
        client_id, agency_id = self.webinars[webinar_id]
        return {
            "participant": True,
            "client_admin": caller.get("client_id") == client_id,
            "agency_admin": caller.get("agency_id") == agency_id,
        }[caller["role"]]

    def random_caller(self, rng):
        role = rng.choice(["participant", "participant", "client_admin", "agency_admin"])
        if role == "participant":
            webinar_id = rng.choice(list(self.viewers))
            user_id = rng.choice(self.viewers[webinar_id])
            token = auth.issue(SECRET, "eventflow", role=role, sub=user_id, name="Soak")
            return {"role": role, "user_id": user_id, "webinar_id": webinar_id, "token": token}
        if role == "client_admin":
            client_id = rng.choice(list(self.clients))
            token = auth.issue(SECRET, "eventflow", role=role, sub=uuid.uuid4(), client_id=client_id)
            return {"role": role, "client_id": client_id, "webinar_id": None, "token": token}
        agency_id = rng.choice(sorted(set(self.clients.values())))
        token = auth.issue(SECRET, "eventflow", role=role, sub=uuid.uuid4(), agency_id=agency_id)
        return {"role": role, "agency_id": agency_id, "webinar_id": None, "token": token}


class Soak:
    def __init__(self, world, total, threads):
        self.world = world
        self.total = total
        self.threads = threads
        self.sent = 0
        self.lock = threading.Lock()
        self.statuses = Counter()
        self.mismatches = []
        self.feed_claims = []  # (caller, webinar_id, kind, item) checked against the database afterwards

    def take(self):
        with self.lock:
            if self.sent >= self.total:
                return False
            self.sent += 1
            return True

    def mismatch(self, what):
        with self.lock:
            self.mismatches.append(what)

    def run_thread(self, seed):
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        while self.take():
            caller = self.world.random_caller(rng)
            # half the time the caller's own webinar (or one of its tenant), half anyone's
            webinar_id = rng.choice(list(self.world.webinars))
            if caller["webinar_id"] and rng.random() < 0.5:
                webinar_id = caller["webinar_id"]
            path = rng.choice(["", "/stats/access", "/messages", "/questions", "LIST"])
            if path == "LIST":
                url = "/api/webinars?limit=500"
            else:
                url = f"/api/webinars/{webinar_id}{path}"
            connection.request("GET", url, headers={"Authorization": f"Bearer {caller['token']}"})
            response = connection.getresponse()
            body = response.read()
            with self.lock:
                self.statuses[response.status] += 1
            self.check(caller, webinar_id, path, response.status, body)
        connection.close()

    def check(self, caller, webinar_id, path, status, body):
        if path == "LIST":
            if caller["role"] == "participant":
                if status != 403:
                    self.mismatch(f"participant listed webinars: {status}")
                return
            for row in json.loads(body):
                if not self.world.in_scope(caller, uuid.UUID(row["id"])):
                    self.mismatch(f"{caller['role']} listed foreign webinar {row['id']}")
            return
        if status == 429:
            return
        expected = 200 if self.world.in_scope(caller, webinar_id) else 404
        if status != expected:
            self.mismatch(
                f"{caller['role']} got {status} for {path or 'webinar'} of {webinar_id} (expected {expected})"
            )
            return
        if status != 200:
            return
        data = json.loads(body)
        if path == "":
            if uuid.UUID(data["id"]) != webinar_id:
                self.mismatch(f"asked for {webinar_id}, got {data['id']}")
        elif path == "/stats/access":
            # Admins see every viewer's id; a participant sees only their own (the `me` entry).
            known = set(map(str, self.world.viewers.get(webinar_id, [])))
            for viewer in data["viewers"]:
                if "user_id" not in viewer:
                    continue
                if caller["role"] == "participant" and viewer["user_id"] != str(caller["user_id"]):
                    self.mismatch(f"participant was shown viewer id {viewer['user_id']} of {webinar_id}")
                elif viewer["user_id"] not in known:
                    self.mismatch(f"viewer {viewer['user_id']} is not of webinar {webinar_id}")
        else:
            kind = "messages" if path == "/messages" else "questions"
            with self.lock:
                self.feed_claims.extend((caller, webinar_id, kind, item) for item in data[kind])

    def verify_feeds(self):
        """Every message and question shown belongs to the URL's webinar and may be seen by the caller."""
        with psycopg.connect(self.world.owner_url) as conn:
            for caller, webinar_id, kind, item in self.feed_claims:
                if kind == "messages":
                    row = conn.execute(
                        "select user_id, hidden from messages where webinar_id = %s and id = %s",
                        (webinar_id, item["id"]),
                    ).fetchone()
                    visible = row is not None and (
                        caller["role"] != "participant" or not row[1] or row[0] == caller["user_id"]
                    )
                else:
                    row = conn.execute(
                        "select user_id, status, is_public from questions where webinar_id = %s and id = %s",
                        (webinar_id, item["id"]),
                    ).fetchone()
                    visible = row is not None and (
                        caller["role"] != "participant"
                        or row[0] == caller["user_id"]
                        or (row[1] == "answered" and row[2])
                    )
                if not visible:
                    self.mismatch(f"{caller['role']} was shown {kind} {item['id']} of {webinar_id}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    state_dir = tempfile.mkdtemp(prefix="eventflow-soak-")
    services, owner_url, server = start(state_dir)
    try:
        world = World(owner_url)
        soak = Soak(world, args.requests, args.threads)
        started = time.monotonic()
        workers = [threading.Thread(target=soak.run_thread, args=(seed,)) for seed in range(args.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.monotonic() - started
        soak.verify_feeds()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        services.stop()
    print(f"requests: {soak.sent} in {elapsed:.1f} s ({soak.sent / elapsed:.0f}/s) with {args.threads} threads")
    print(f"statuses: {dict(sorted(soak.statuses.items()))}")
    print(f"feed items checked: {len(soak.feed_claims)}")
    print(f"mismatches: {len(soak.mismatches)}")
    for line in soak.mismatches[:20]:
        print("  ", line)
    sys.exit(1 if soak.mismatches else 0)


if __name__ == "__main__":
    os.environ.setdefault("GUNICORN_THREADS", "4")
    main()
