"""A device's access/track and presence/ping sent together (the reference client does, on entry
and every 5 min) lock the same session and presence rows: the procedures must take them in one
order, or PostgreSQL breaks the deadlock by failing one of them (a 503)."""

import threading

PAIRS = 60


def test_track_and_ping_of_one_session_sent_together_never_deadlock(app, make_tenant):
    tenant = make_tenant()
    base = f"/api/webinars/{tenant.webinar_id}"
    statuses = []
    for n in range(PAIRS):
        _, headers = tenant.participant(name=f"Viewer {n}")
        session = {"session_id": app.test_client().post(f"{base}/access/track", headers=headers).json["session_id"]}
        together = threading.Barrier(2)

        def send(path, headers=headers, session=session, together=together):
            client = app.test_client()
            together.wait()
            statuses.append((path, client.post(f"{base}/{path}", headers=headers, json=session).status_code))

        threads = [threading.Thread(target=send, args=(path,)) for path in ("access/track", "presence/ping")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(statuses) == 2 * PAIRS
    assert [entry for entry in statuses if entry[1] != 200] == []
