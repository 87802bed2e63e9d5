"""The shared Redis client: caches, rate limits and RQ queues all use this one connection pool."""

import redis
from flask import current_app

# Short timeouts: Redis is a cache in front of PostgreSQL, and a slow cache must not be slower
# than no cache.
SOCKET_TIMEOUT_SECONDS = 0.5


def connect(url):
    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


def init_app(app, settings):
    app.extensions["eventflow.redis"] = connect(settings.redis_url)


def get_redis():
    return current_app.extensions["eventflow.redis"]
