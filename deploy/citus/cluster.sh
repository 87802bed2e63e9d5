#!/usr/bin/env bash
# A local Citus cluster for development and tests: a coordinator and N workers, each its own
# PostgreSQL instance (shared_preload_libraries = 'citus') on a free local port, all in one
# directory. Needs a PostgreSQL with Citus installed (on this machine: ../shared/citus/install.sh
# into Debian's PostgreSQL 15; PG_BIN picks another installation).
#
#   deploy/citus/cluster.sh start [--workers N] [--dir DIR] [--port FIRST] [--shards N]
#   deploy/citus/cluster.sh urls  [--dir DIR]    # the owner, app and worker URLs, as shell exports
#   deploy/citus/cluster.sh add-worker [--dir DIR]   # one more worker, shards rebalanced onto it online
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

# Moving shards online (rebalancing, isolating a tenant) streams them with logical decoding
# through Citus' own output plugin. Some PostgreSQL builds (this machine's) only allow plugins
# listed in output_plugin_libraries; where that setting exists, Citus is added to it.
allow_citus_logical_decoding() {
    local plugins
    plugins=$("$pg_bin/psql" -X -At -h 127.0.0.1 -p "$1" -U postgres -d "$database" \
        -c "select current_setting('output_plugin_libraries', true)")
    if [ -n "$plugins" ] && [[ ",${plugins// /}," != *",citus,"* ]]; then
        # A list setting: each library its own quoted item.
        node_psql "$1" "alter system set output_plugin_libraries = '${plugins//, /\', \'}', 'citus'"
        node_psql "$1" "select pg_reload_conf()"
    fi
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

free_port_from() {  # the first free port at or after $1
    local port=$1
    until port_is_free "$port"; do port=$((port + 1)); done
    echo "$port"
}

# start_node INDEX PORT: a PostgreSQL with Citus on PORT, data in $dir/nodeINDEX, its database
# made and the extension created.
start_node() {
    local data="$dir/node$1" port=$2
    as_server_user "$pg_bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
    cat >>"$data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus,pg_stat_statements'
max_connections = 300
wal_level = logical
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    as_server_user "$pg_bin/pg_ctl" -D "$data" -l "$dir/node$1.log" -w start >/dev/null
    as_server_user "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$database"
    node_psql "$port" "create extension citus"
    allow_citus_logical_decoding "$port"
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
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    local coordinator worker_ports=() port
    coordinator=$(free_port_from "$first_port")
    start_node 0 "$coordinator"
    node_psql "$coordinator" "select citus_set_coordinator_host('127.0.0.1', $coordinator)"
    node_psql "$coordinator" "alter database $database set citus.shard_count = $shards"
    port=$coordinator
    for index in $(seq 1 "$workers"); do
        port=$(free_port_from $((port + 1)))
        start_node "$index" "$port"
        node_psql "$coordinator" "select citus_add_node('127.0.0.1', $port)"
        worker_ports+=("$port")
    done
    printf 'COORDINATOR_PORT=%s\nWORKER_PORTS="%s"\n' "$coordinator" "${worker_ports[*]}" >"$dir/cluster.env"
    echo "citus cluster up: a coordinator and $workers workers, $shards shards per table" >&2
    print_urls
}

# Adds a worker and moves shards onto it while the cluster serves (logical replication): the
# online rebalance of docs/scale-out.md.
add_worker() {
    # shellcheck source=/dev/null
    . "$dir/cluster.env"
    local ports=($WORKER_PORTS) port
    port=$(free_port_from $((${ports[-1]} + 1)))
    start_node $((${#ports[@]} + 1)) "$port"
    node_psql "$COORDINATOR_PORT" "select citus_add_node('127.0.0.1', $port)"
    printf 'COORDINATOR_PORT=%s\nWORKER_PORTS="%s"\n' "$COORDINATOR_PORT" "$WORKER_PORTS $port" >"$dir/cluster.env"
    node_psql "$COORDINATOR_PORT" "select citus_rebalance_start()"
    node_psql "$COORDINATOR_PORT" "select citus_rebalance_wait()"
    echo "worker on port $port added and the shards rebalanced onto it" >&2
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
    add-worker) add_worker ;;
    urls) print_urls ;;
    stop) stop ;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
