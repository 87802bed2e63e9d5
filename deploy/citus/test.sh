#!/usr/bin/env bash
# The suite's Citus run: starts a local cluster (a coordinator and 2 workers, see cluster.sh),
# runs the isolation matrix, the pool test, the webinar-state rules, the hot-path, chat (and its
# change window), stats (and the dashboard cache), job, db check and two-instance tests and the Citus-only checks (tests/test_citus.py: single-shard routing, rollups
# equal to plain PostgreSQL's) against it through ./dev test, then stops and removes the cluster.
#
#   deploy/citus/test.sh [pytest args]      # EVENTFLOW_CITUS_PORT: first port to try (9700)
set -euo pipefail
cd "$(dirname "$0")/../.."

dir=${TMPDIR:-/tmp}/eventflow-citus-test-$$
trap 'deploy/citus/cluster.sh stop --dir "$dir"' EXIT
deploy/citus/cluster.sh start --dir "$dir" --workers 2 >/dev/null
owner_url=$(deploy/citus/cluster.sh urls --dir "$dir" | sed -n 's/^export DATABASE_OWNER_URL=//p')

EVENTFLOW_TEST_OWNER_URL=$owner_url ./dev test \
    tests/test_row_level_security.py tests/test_pool_context.py tests/test_webinar_states.py \
    tests/test_access.py tests/test_stats_access.py tests/test_messages.py tests/test_questions.py \
    tests/test_stats.py tests/test_jobs.py tests/test_dbcheck.py tests/test_scale_out.py tests/chat tests/stats \
    tests/test_citus.py "$@"
