"""The WSGI entry point for gunicorn: `gunicorn -c gunicorn.conf.py wsgi:app`.

Production takes its servers from the environment (DATABASE_URL, REDIS_URL, ...) and refuses to
start without them; `eventflow serve` passes the embedded ones explicitly."""

from eventflow import create_app

app = create_app(allow_embedded=False)
