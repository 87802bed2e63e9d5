"""The framework floor: a constant Flask endpoint, served by the same gunicorn settings as the
service (`gunicorn -c gunicorn.conf.py bench.floor:app`). No auth, no Redis, no database: what
Flask + gunicorn cost per request on this machine, the ceiling every hot endpoint is judged by.

`/floor` is what wrk saturates; every `/api/...` path answers the crowd (`--crowd-target floor`)
with one constant body that its viewers can read (no session, no viewers, no cursor)."""

from flask import Flask, Response

app = Flask(__name__)
BODY = b'{"live_count":0,"viewers":[]}'


@app.get("/floor")
def floor():
    return Response(BODY, mimetype="application/json")


CROWD_BODY = b'{"session_id":null,"live_count":0,"viewers":[]}'


@app.route("/api/<path:anything>", methods=["GET", "POST"])
def crowd(anything):
    return Response(CROWD_BODY, mimetype="application/json")
