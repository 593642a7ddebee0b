#!/usr/bin/env bash
# A local Redis Cluster for tests and benchmarks: 3 primaries + 3 replicas from Debian's
# redis-server, one directory per node under a tmp path, nothing persisted to disk.
#
#   scripts/redis-cluster.sh start    # idempotent: a running, healthy cluster is left alone
#   scripts/redis-cluster.sh status   # exit 0 when every slot is served and cluster_state is ok
#   scripts/redis-cluster.sh nodes    # prints the seed list for REDIS_CLUSTER_NODES
#   scripts/redis-cluster.sh stop     # kills the six nodes and removes their directory
#
# Env: REDIS_CLUSTER_PORT (first port, default 7000; nodes use PORT..PORT+5, cluster bus +10000),
#      REDIS_CLUSTER_DIR (default ${TMPDIR:-/tmp}/stageflow-redis-cluster-PORT),
#      REDIS_CLUSTER_NODE_TIMEOUT_MS (default 2000: how soon a SIGKILLed primary's replica takes over),
#      REDIS_CLUSTER_WAIT_S (default 30).
#
# `start` after a node died (a test SIGKILLed a primary) restarts just that node from its
# nodes.conf, so it rejoins the cluster as a replica of whoever took over its slots.
set -euo pipefail

BASE_PORT="${REDIS_CLUSTER_PORT:-7000}"
DIR="${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/stageflow-redis-cluster-${BASE_PORT}}"
NODE_TIMEOUT="${REDIS_CLUSTER_NODE_TIMEOUT_MS:-2000}"
WAIT_S="${REDIS_CLUSTER_WAIT_S:-30}"
HOST=127.0.0.1
COUNT=6

say() { printf '[redis-cluster] %s\n' "$*" >&2; }

ports() { seq "$BASE_PORT" $((BASE_PORT + COUNT - 1)); }

cli() {
  local port="$1"
  shift
  timeout 5 redis-cli -h "$HOST" -p "$port" "$@" 2>/dev/null
}

answers() { [ "$(cli "$1" ping || true)" = "PONG" ]; }

info_field() { cli "$1" cluster info | tr -d '\r' | sed -n "s/^$2://p"; }

healthy() {
  local port info
  for port in $(ports); do
    info="$(cli "$port" cluster info | tr -d '\r')" || return 1
    grep -qx 'cluster_state:ok' <<<"$info" || return 1
    grep -qx 'cluster_slots_ok:16384' <<<"$info" || return 1
    grep -qx "cluster_known_nodes:$COUNT" <<<"$info" || return 1
  done
  local masters
  masters="$(cli "$BASE_PORT" cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail/ && $8 == "connected" {n++} END {print n+0}')"
  [ "$masters" = "3" ] || return 1
  # Every replica has finished its initial sync: until then it confirms no WAIT and refuses a
  # manual failover, which is what the tests do first.
  for port in $(ports); do
    info="$(cli "$port" info replication | tr -d '\r')" || return 1
    if grep -qx 'role:slave' <<<"$info"; then grep -qx 'master_link_status:up' <<<"$info" || return 1; fi
  done
}

start_node() {
  local port="$1" dir="$DIR/$1"
  mkdir -p "$dir"
  redis-server --port "$port" --bind "$HOST" --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$NODE_TIMEOUT" \
    --save "" --appendonly no --maxmemory-policy noeviction --repl-diskless-sync-delay 0 9>&-
}

wait_for() {
  local what="$1" check="$2" end=$((SECONDS + WAIT_S))
  until "$check"; do
    if [ "$SECONDS" -ge "$end" ]; then
      say "timed out after ${WAIT_S}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

all_answer() {
  local port
  for port in $(ports); do answers "$port" || return 1; done
}

cmd_start() {
  command -v redis-server >/dev/null || { say "redis-server is not installed (apt-get install redis-server)"; exit 2; }
  if healthy; then
    say "cluster already running and healthy on ${HOST}:${BASE_PORT}-$((BASE_PORT + COUNT - 1))"
    return 0
  fi
  local port
  for port in $(ports); do
    if ! answers "$port"; then
      start_node "$port"
    fi
  done
  wait_for "all nodes to answer PING" all_answer
  # A node that never joined a cluster knows only itself and serves no slot.
  if [ "$(info_field "$BASE_PORT" cluster_known_nodes)" = "1" ] && [ "$(info_field "$BASE_PORT" cluster_slots_assigned)" = "0" ]; then
    local seeds=()
    for port in $(ports); do seeds+=("$HOST:$port"); done
    say "creating the cluster: ${seeds[*]}"
    redis-cli --cluster create "${seeds[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log" 2>&1 || {
      say "redis-cli --cluster create failed:"
      tail -n 20 "$DIR/create.log" >&2
      exit 1
    }
  fi
  wait_for "cluster_state:ok with all 16384 slots and 3 primaries" healthy || {
    cli "$BASE_PORT" cluster nodes >&2 || true
    exit 1
  }
  say "cluster up on ${HOST}:${BASE_PORT}-$((BASE_PORT + COUNT - 1)) (dir $DIR)"
}

cmd_stop() {
  local port pid
  for port in $(ports); do
    pid=""
    [ -f "$DIR/$port/redis.pid" ] && pid="$(cat "$DIR/$port/redis.pid" 2>/dev/null || true)"
    # Only a redis-server we started (its pidfile in our dir) is killed, by its own pid.
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    elif answers "$port"; then
      cli "$port" shutdown nosave >/dev/null || true
    fi
  done
  rm -rf "$DIR"
  say "stopped; removed $DIR"
}

cmd_nodes() {
  local seeds=() port
  for port in $(ports); do seeds+=("$HOST:$port"); done
  (IFS=,; echo "${seeds[*]}")
}

# One start or stop at a time: test files running in parallel may all ask for the cluster at once.
mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
flock -w 120 9 || { say "could not lock $DIR.lock"; exit 1; }

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) healthy ;;
  nodes) cmd_nodes ;;
  *)
    echo "usage: $0 start|stop|status|nodes" >&2
    exit 2
    ;;
esac
