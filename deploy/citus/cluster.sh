#!/usr/bin/env bash
# A local Citus cluster for development and tests: a coordinator and N workers, each its own
# PostgreSQL instance (shared_preload_libraries = 'citus') on a free local port, all in one
# directory. Needs a PostgreSQL with Citus installed (on this machine: ../shared/citus/install.sh
# into Debian's PostgreSQL 15; PG_BIN picks another installation).
#
#   deploy/citus/cluster.sh start [--workers N] [--dir DIR] [--port FIRST] [--shards N]
#   deploy/citus/cluster.sh urls  [--dir DIR]    # the owner, app and worker URLs, as shell exports
#   deploy/citus/cluster.sh stop  [--dir DIR]    # stops every instance and removes DIR
#
# `start` prints the URLs too. The roles eventflow_app / eventflow_worker are made by
# `eventflow db upgrade`, which also distributes the tables (see sql/citus/). The cluster is
# throwaway: fsync is off and every local connection is trusted. Never use it for real data.
set -euo pipefail

command=${1:-}
shift || true
workers=2
dir=${EVENTFLOW_CITUS_DIR:-${TMPDIR:-/tmp}/eventflow-citus}
first_port=${EVENTFLOW_CITUS_PORT:-9700}
shards=8
while [ $# -gt 0 ]; do
    case "$1" in
        --workers) workers=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --port) first_port=$2; shift 2 ;;
        --shards) shards=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
database=eventflow

# PostgreSQL refuses to run as root: then every server command runs as the `postgres` user.
as_server_user() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

node_psql() {  # node_psql PORT SQL...: run SQL as the superuser on one node's database
    local port=$1
    shift
    "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$database" -c "$*" >/dev/null
}

print_urls() {
    # shellcheck source=/dev/null
    . "$dir/cluster.env"
    local base="postgresql://%s@127.0.0.1:$COORDINATOR_PORT/$database"
    printf 'export DATABASE_OWNER_URL=%s\n' "$(printf "$base" postgres)"
    printf 'export DATABASE_URL=%s\n' "$(printf "$base" eventflow_app)"
    printf 'export WORKER_DATABASE_URL=%s\n' "$(printf "$base" eventflow_worker)"
    printf '# coordinator on port %s, workers on ports %s; data in %s\n' "$COORDINATOR_PORT" "$WORKER_PORTS" "$dir"
}

start() {
    if [ -f "$dir/cluster.env" ]; then
        echo "a cluster already lives in $dir (stop it first)" >&2
        exit 1
    fi
    if [ ! -f "$("$pg_bin/pg_config" --pkglibdir)/citus.so" ]; then
        echo "citus is not installed in $pg_bin's PostgreSQL (run ../shared/citus/install.sh)" >&2
        exit 1
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    local port=$first_port ports=()
    while [ ${#ports[@]} -le "$workers" ]; do
        if port_is_free "$port"; then ports+=("$port"); fi
        port=$((port + 1))
    done
    local coordinator=${ports[0]} worker_ports=("${ports[@]:1}")
    printf 'COORDINATOR_PORT=%s\nWORKER_PORTS="%s"\n' "$coordinator" "${worker_ports[*]}" >"$dir/cluster.env"

    local index=0
    for port in "${ports[@]}"; do
        local data="$dir/node$index"
        as_server_user "$pg_bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
        cat >>"$data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_connections = 300
wal_level = logical
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
        as_server_user "$pg_bin/pg_ctl" -D "$data" -l "$dir/node$index.log" -w start >/dev/null
        as_server_user "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$database"
        node_psql "$port" "create extension citus"
        index=$((index + 1))
    done
    node_psql "$coordinator" "select citus_set_coordinator_host('127.0.0.1', $coordinator)"
    node_psql "$coordinator" "alter database $database set citus.shard_count = $shards"
    for port in "${worker_ports[@]}"; do
        node_psql "$coordinator" "select citus_add_node('127.0.0.1', $port)"
    done
    echo "citus cluster up: a coordinator and $workers workers, $shards shards per table" >&2
    print_urls
}

stop() {
    if [ ! -f "$dir/cluster.env" ]; then
        echo "no cluster in $dir" >&2
        return 0
    fi
    for data in "$dir"/node*/; do
        [ -f "$data/postmaster.pid" ] && as_server_user "$pg_bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    done
    rm -rf "$dir"
    echo "stopped and removed the cluster in $dir" >&2
}

case "$command" in
    start) start ;;
    urls) print_urls ;;
    stop) stop ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
