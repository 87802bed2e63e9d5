"""A real commit-time failure: a deferred constraint trigger that refuses some rows when their
transaction commits (as a deferred foreign key or a serialization failure would), not before."""

from contextlib import contextmanager

FAIL = """
create function public.test_refuse_at_commit() returns trigger language plpgsql as $$
begin
    raise exception 'refused at commit by a test' using errcode = 'check_violation';
end $$
"""


@contextmanager
def refused_at_commit(owner, table, condition):
    """While inside, a transaction that inserted a row of `table` matching `condition` (SQL on
    `new`) fails at its commit. `owner` is an autocommit connection as the schema owner. (On
    Citus a trigger on a distributed table needs enable_unsafe_triggers; it fires on the shard.)"""
    owner.execute("set citus.enable_unsafe_triggers = on")
    owner.execute(FAIL)
    owner.execute(
        f"""create constraint trigger test_refuse_at_commit after insert on {table}
            deferrable initially deferred for each row when ({condition})
            execute function public.test_refuse_at_commit()"""
    )
    try:
        yield
    finally:
        owner.execute(f"drop trigger test_refuse_at_commit on {table}")
        owner.execute("drop function public.test_refuse_at_commit()")
