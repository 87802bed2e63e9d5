"""Every setting the service reads from the environment, in one place."""

import os
from dataclasses import MISSING, dataclass, fields, replace

from flask import current_app


@dataclass(frozen=True)
class Settings:
    """The connections and secret first; then every tunable, each read from EVENTFLOW_<NAME>
    (upper case), as its default's type, the default written once, here."""

    database_url: str | None
    database_owner_url: str | None
    worker_database_url: str | None
    redis_url: str | None
    jwt_secret: str
    jwt_audience: str
    state_dir: str
    db_pool_min: int = 2
    # Per process: fewer than its threads (gunicorn.conf.py), so that requests needing no
    # database always find a thread (README: "Overload").
    db_pool_max: int = 4
    db_pool_timeout: float = 5.0
    statement_timeout_ms: int = 5000
    # How long a request may wait to start, for a thread (measured from the front's
    # X-Request-Start) and for a connection of a saturated pool, before it is answered 503 +
    # Retry-After: the target once that queue has stood above it for 100 ms, the bound in any
    # case (overload.StartBound; README: "Overload").
    request_start_target_ms: int = 20
    request_start_bound_ms: int = 250
    webinar_cache_seconds: int = 60
    presence_timeout_seconds: int = 150
    snapshot_max_age_seconds: float = 1.0
    participant_viewer_limit: int = 50
    trusted_proxies: int = 0
    # Dashboard, attendance and jobs (README: "Dashboard, attendance, jobs and ops").
    attended_share: float = 0.5
    stats_timezone: str = "Asia/Seoul"
    rollup_overlap_seconds: int = 600
    metrics_token: str = ""
    # Production refuses to serve /metrics without metrics_token unless this says it may.
    metrics_public: bool = False
    poll_breaker_failures: int = 5
    poll_breaker_reset_seconds: float = 10.0
    messages_poll_interval_seconds: int = 2
    questions_poll_interval_seconds: int = 5
    poll_slowdown_factor: int = 3
    feed_marker_ttl_seconds: int = 15
    # The fast lane takes a feed's marker as its process read or raised it this long ago before
    # asking Redis again (chat/feed.py); 0 asks at every poll.
    feed_marker_recent_seconds: float = 0.2
    # The shared change window of each feed (README: "Chat and Q&A"): how many of its latest
    # changes it holds; 0 turns it off (every poll that is behind reads PostgreSQL).
    feed_window_changes: int = 300
    # The dashboard (GET /stats) is rebuilt at most this often per webinar and sections.
    stats_cache_seconds: float = 5.0
    # Event streams one stream process holds at most (fewer if its file descriptors are fewer).
    stream_max_connections: int = 10000
    # A stream with nothing to send sends a comment this often (the issue: every 15-30 s).
    stream_heartbeat_seconds: float = 20.0
    # Whether the pages give their client the stream's URL: only where the front routes it to a
    # stream process (`eventflow serve` without --no-front, the Procfile); else they poll.
    pages_offer_stream: bool = True
    # The pages' client cadences (ping, track, stats/access, dashboard) times this; tests shorten them.
    page_cadence_scale: float = 1.0

    @classmethod
    def from_env(cls, env=None, **overrides):
        env = os.environ if env is None else env
        values = dict(
            database_url=env.get("DATABASE_URL") or None,
            database_owner_url=env.get("DATABASE_OWNER_URL") or None,
            worker_database_url=env.get("WORKER_DATABASE_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            jwt_secret=env.get("EVENTFLOW_JWT_SECRET", ""),
            jwt_audience=env.get("EVENTFLOW_JWT_AUDIENCE", "eventflow"),
            state_dir=env.get("EVENTFLOW_STATE_DIR", os.path.join(os.getcwd(), ".eventflow")),
        )
        for setting in fields(cls):
            if setting.default is not MISSING:
                raw = env.get(f"EVENTFLOW_{setting.name.upper()}")
                values[setting.name] = setting.default if raw is None else _parse(setting, raw)
        values.update(overrides)
        return cls(**values)

    def with_overrides(self, **changes):
        return replace(self, **changes)

    def require_production(self):
        """Raise, naming what is missing, unless the production servers and secret are given and
        /metrics is protected by a token or explicitly public."""
        missing = [
            name
            for name, value in (
                ("DATABASE_URL", self.database_url),
                ("REDIS_URL", self.redis_url),
                ("EVENTFLOW_JWT_SECRET", self.jwt_secret),
            )
            if not value
        ]
        if missing:
            raise RuntimeError(f"set {', '.join(missing)}: the web app does not start private servers in production")
        if not self.metrics_token and not self.metrics_public:
            raise RuntimeError(
                "set EVENTFLOW_METRICS_TOKEN (scrapers send it as a bearer token), or "
                "EVENTFLOW_METRICS_PUBLIC=1 if /metrics is only reachable by the scraper"
            )


BOOLEAN_WORDS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _parse(setting, raw):
    """An environment value as its default's type; booleans only from an unambiguous word
    (bool("0") would be True)."""
    if isinstance(setting.default, bool):
        try:
            return BOOLEAN_WORDS[raw.strip().lower()]
        except KeyError:
            raise ValueError(f"EVENTFLOW_{setting.name.upper()} must be one of {', '.join(BOOLEAN_WORDS)}") from None
    return type(setting.default)(raw)


def current():
    """The running app's Settings (in a request or app context)."""
    return current_app.extensions["eventflow.settings"]
