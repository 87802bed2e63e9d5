"""The rate-limit counters: counted in each process, shared through the real Redis in batches.

Two storages on one Redis stand for two gunicorn workers (or two machines)."""

import time
import uuid

import pytest
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from eventflow import redis_client
from eventflow.limit_storage import REDIS_PREFIX, BatchedRedisStorage

LIMIT = parse("10 per minute")


@pytest.fixture
def shared_redis(services):
    return redis_client.connect(services["redis_url"])


def worker(redis):
    storage = BatchedRedisStorage(redis_client=redis)
    return storage, FixedWindowRateLimiter(storage)


def key():
    return f"test-limit-{uuid.uuid4().hex}"


def shared_key(caller):
    return REDIS_PREFIX + LIMIT.key_for(caller)


def test_hits_in_two_processes_count_against_one_limit(shared_redis):
    (first_storage, first), (second_storage, second) = worker(shared_redis), worker(shared_redis)
    caller = key()
    assert all(first.hit(LIMIT, caller) for _ in range(6))
    assert all(second.hit(LIMIT, caller) for _ in range(4)), "each process alone is under the limit"
    first_storage.sync()
    second_storage.sync()
    assert int(shared_redis.get(shared_key(caller))) == 10
    assert not second.hit(LIMIT, caller), "the first process's hits were not counted"
    # The first process learns the total with its next batch (its thread's or this one): until
    # then it may admit what it sees, one sync interval's worth, and after it not one hit more.
    first.hit(LIMIT, caller)
    first_storage.sync()
    assert not first.hit(LIMIT, caller), "the second process's hits were not counted"


def test_a_window_ends_when_its_shared_key_expires(shared_redis):
    storage, limiter = worker(shared_redis)
    caller = key()
    assert limiter.hit(LIMIT, caller)
    storage.sync()
    ttl = shared_redis.pttl(shared_key(caller)) / 1000
    assert 55 < ttl <= 60
    assert abs(storage.get_expiry(LIMIT.key_for(caller)) - (time.time() + ttl)) < 1.0
    # Another process that joins the window later ends it at the same moment.
    late_storage, late = worker(shared_redis)
    shared_redis.pexpire(shared_key(caller), 200)
    assert late.hit(LIMIT, caller)
    late_storage.sync()
    assert late_storage.get_expiry(LIMIT.key_for(caller)) - time.time() < 0.3
    time.sleep(0.3)
    assert late_storage.get(LIMIT.key_for(caller)) == 0, "the ended window still counts"


def test_the_background_sync_shares_hits_without_being_asked(shared_redis):
    _, limiter = worker(shared_redis)
    caller = key()
    limiter.hit(LIMIT, caller)
    deadline = time.monotonic() + 1.0
    while shared_redis.get(shared_key(caller)) is None:
        assert time.monotonic() < deadline, "no sync within 1 s"
        time.sleep(0.02)
    assert int(shared_redis.get(shared_key(caller))) == 1


def test_without_redis_each_process_enforces_the_limit_and_shares_later(shared_redis, services):
    storage, limiter = worker(shared_redis)
    caller = key()
    services["embedded"].pause_redis()
    try:
        assert all(limiter.hit(LIMIT, caller) for _ in range(10))
        storage.sync()  # fails: the hits stay pending
        assert not limiter.hit(LIMIT, caller), "the limit was not enforced while Redis was down"
        assert storage.get(LIMIT.key_for(caller)) == 11
    finally:
        services["embedded"].start_redis()
    storage.sync()
    assert int(shared_redis.get(shared_key(caller))) == 11, "the hits counted during the outage were lost"


def test_reset_clears_the_shared_counters_too(shared_redis):
    storage, limiter = worker(shared_redis)
    caller = key()
    limiter.hit(LIMIT, caller)
    storage.sync()
    assert shared_redis.exists(shared_key(caller))
    assert storage.reset() >= 1
    assert not shared_redis.exists(shared_key(caller))
    assert storage.get(LIMIT.key_for(caller)) == 0
