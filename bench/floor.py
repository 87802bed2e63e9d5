"""The framework floor: a constant Flask endpoint, served by the same gunicorn settings as the
service (`gunicorn -c gunicorn.conf.py bench.floor:app`). No auth, no Redis, no database: what
Flask + gunicorn cost per request on this machine, the ceiling every hot endpoint is judged by."""

from flask import Flask, Response

app = Flask(__name__)
BODY = b'{"live_count":0,"viewers":[]}'


@app.get("/floor")
def floor():
    return Response(BODY, mimetype="application/json")
