"""flask-limiter's counters, kept in process memory and shared through Redis in batches.

A round trip to Redis on every request would cost more than the whole of a cached stats/access
answer. So each process counts hits in memory and a background thread adds them to the shared
counters in Redis every SYNC_SECONDS, in one script call for all the keys hit since the last
batch; the call returns each key's shared total and the time left in its window, which the
process then counts on from. A limit therefore holds across all processes and machines, and a
looping client spread over several processes is stopped within one sync interval after the
shared total passes the limit: by then each process has admitted at most what it saw in that
interval.

While Redis is unreachable the hits stay pending (they are added once it answers again) and
each process enforces every limit on its own counts: per process, never unlimited.

Only the fixed-window strategy is supported: a window starts with its key's first hit and ends
when its key expires in Redis, as with flask-limiter's own Redis storage.
"""

import logging
import os
import threading
import time
from dataclasses import dataclass

import redis
from limits.storage import Storage

log = logging.getLogger(__name__)

SCHEME = "eventflow+redis"
# Every counter's Redis key starts with this, so that reset() can find them all.
REDIS_PREFIX = "ef:rate:"
SYNC_SECONDS = 0.1
# Ended windows are dropped this often (a scan of all of them), not on every sync.
FORGET_SECONDS = 5.0
# A warning per outage, not per batch: the sync runs ten times a second.
OUTAGE_LOG_SECONDS = 60.0

# KEYS: the counters; ARGV: the window length in ms of each, then the amount to add to each.
# Returns, per key, its new total and the milliseconds left in its window.
_ADD_AND_READ = """
local result = {}
local n = #KEYS
for i = 1, n do
    local total = redis.call('incrby', KEYS[i], ARGV[n + i])
    local ttl = redis.call('pttl', KEYS[i])
    if ttl < 0 then
        redis.call('pexpire', KEYS[i], ARGV[i])
        ttl = tonumber(ARGV[i])
    end
    result[2 * i - 1] = total
    result[2 * i] = ttl
end
return result
"""


@dataclass
class _Window:
    ends_at: float  # epoch seconds
    window_ms: int
    shared: int = 0  # the shared total when Redis last answered for this key
    sending: int = 0  # this process's hits in the batch on its way to Redis
    pending: int = 0  # this process's hits since that batch was taken

    @property
    def count(self):
        return self.shared + self.sending + self.pending


class BatchedRedisStorage(Storage):
    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri=None, wrap_exceptions=False, redis_client=None, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        if redis_client is None:
            raise ValueError(f"{SCHEME}:// needs the redis_client storage option")
        self._redis = redis_client
        self._add_and_read = redis_client.register_script(_ADD_AND_READ)
        self._start_lock = threading.Lock()
        self._syncing_pid = None
        self._sync_lock = threading.Lock()  # one batch at a time: the thread's, or a direct call's
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._dirty: set[str] = set()
        self._outage_logged_at = 0.0
        self._forgotten_at = time.monotonic()

    def _start_syncing(self):
        """Start the sync thread on first use in this process: a gunicorn worker forked from a
        parent that counted anything starts over, as the parent's thread does not come along."""
        with self._start_lock:
            if self._syncing_pid == os.getpid():
                return
            if self._syncing_pid is not None:
                self._lock, self._sync_lock = threading.Lock(), threading.Lock()
                self._windows, self._dirty = {}, set()
            self._syncing_pid = os.getpid()
            threading.Thread(target=self._run, name="rate-limit-sync", daemon=True).start()

    @property
    def base_exceptions(self):
        return redis.RedisError

    def incr(self, key, expiry, amount=1):
        if self._syncing_pid != os.getpid():
            self._start_syncing()
        now = time.time()
        with self._lock:
            window = self._windows.get(key)
            if window is None or window.ends_at <= now:
                window = self._windows[key] = _Window(ends_at=now + expiry, window_ms=int(expiry * 1000))
            window.pending += amount
            self._dirty.add(key)
            return window.count

    def get(self, key):
        window = self._windows.get(key)
        return window.count if window is not None and window.ends_at > time.time() else 0

    def get_expiry(self, key):
        window = self._windows.get(key)
        return window.ends_at if window is not None else time.time()

    def check(self):
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def reset(self):
        with self._lock:
            self._windows.clear()
            self._dirty.clear()
        keys = list(self._redis.scan_iter(match=f"{REDIS_PREFIX}*", count=1000))
        return self._redis.delete(*keys) if keys else 0

    def clear(self, key):
        with self._lock:
            self._windows.pop(key, None)
            self._dirty.discard(key)
        self._redis.delete(REDIS_PREFIX + key)

    def sync(self):
        """Add this process's pending hits to the shared counters and learn their totals."""
        with self._sync_lock:
            self._sync()

    def _sync(self):
        now = time.time()
        with self._lock:
            if time.monotonic() - self._forgotten_at >= FORGET_SECONDS:
                self._forget_ended(now)  # before the batch is taken: its windows are still dirty
            # Hits of a window that has ended count for nothing any more.
            batch = [(key, self._windows[key]) for key in self._dirty if self._windows[key].ends_at > now]
            self._dirty.clear()
            for _, window in batch:
                window.sending, window.pending = window.pending, 0
        if not batch:
            return
        keys = [REDIS_PREFIX + key for key, _ in batch]
        args = [window.window_ms for _, window in batch] + [window.sending for _, window in batch]
        try:
            answer = self._add_and_read(keys=keys, args=args)
        except redis.RedisError as exc:
            self._keep_pending(batch, exc)
            return
        now = time.time()
        with self._lock:
            for index, (_, window) in enumerate(batch):
                window.shared, window.sending = answer[2 * index], 0
                window.ends_at = now + answer[2 * index + 1] / 1000

    def _keep_pending(self, batch, exc):
        with self._lock:
            for key, window in batch:
                window.pending += window.sending
                window.sending = 0
                if self._windows.get(key) is window:  # not cleared, nor ended and replaced, meanwhile
                    self._dirty.add(key)
        now = time.monotonic()
        if now - self._outage_logged_at >= OUTAGE_LOG_SECONDS:
            self._outage_logged_at = now
            log.warning("Redis unreachable for the rate-limit counters (%s); enforcing them per process", exc)

    def _forget_ended(self, now):
        self._forgotten_at = time.monotonic()
        ended = [key for key, window in self._windows.items() if window.ends_at <= now and key not in self._dirty]
        for key in ended:
            del self._windows[key]

    def _run(self):
        while True:
            time.sleep(SYNC_SECONDS)
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - the thread must outlive any one bad batch
                log.exception("rate-limit counter sync failed")
