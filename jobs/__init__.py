"""Background work on RQ: set-based rollups and sweeps, each a thin wrapper around SQL.

Jobs connect as eventflow_worker (WORKER_DATABASE_URL); `sql/policies/` spells out what that
role may read and write. The periodic schedule is `jobs/schedule.py`, run by `rq cron`.
"""
