#!/usr/bin/env bash
# Broker clusters on loopback, for the failover tests and for local use, beside
# (never instead of) the single-node services on their standard ports:
#
#   bash .ci/clusters.sh up       # start whatever is not running, wait until healthy
#   bash .ci/clusters.sh down     # stop everything this script started
#   bash .ci/clusters.sh up nats  # only the named clusters: rabbitmq, nats, redis-cluster,
#                                 # sentinel (a failover test restarts the node it killed so)
#   bash .ci/clusters.sh status
#   bash .ci/clusters.sh env      # the URLs the tests read, as shell assignments
#
# - RabbitMQ: three nodes of one cluster, AMQP on 5701-5703;
# - NATS: three servers with routes and JetStream, clients on 4301-4303;
# - Redis Cluster: three masters with a replica each, on 7001-7006;
# - Redis Sentinel: a master on 7101, replicas on 7102-7103, sentinels on 27101-27103
#   watching the master named `teal`.
#
# Every process's state lives under TEAL_CLUSTERS_DIR (default /tmp/teal-clusters),
# with its PID file there; `down` stops exactly those.
set -euo pipefail

CLUSTERS_DIR="${TEAL_CLUSTERS_DIR:-/tmp/teal-clusters}"
RABBIT_PORTS=(5701 5702 5703)
NATS_PORTS=(4301 4302 4303)
REDIS_CLUSTER_PORTS=(7001 7002 7003 7004 7005 7006)
SENTINEL_REDIS_PORTS=(7101 7102 7103)
SENTINEL_PORTS=(27101 27102 27103)
WAIT_SECONDS="${TEAL_CLUSTERS_WAIT_SECONDS:-90}"

log() { echo "clusters: $*" >&2; }

port_answers() { timeout 1 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Waits until `check` succeeds, for at most WAIT_SECONDS; names `what` on failure.
wait_until() {
  local what="$1"
  shift
  local waited=0
  until "$@" >/dev/null 2>&1; do
    if ((waited >= WAIT_SECONDS)); then
      log "$what is not healthy after ${WAIT_SECONDS} s"
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Stops the process of a PID file, politely then not.
stop_pid() {
  local file="$1"
  pid_alive "$file" || { rm -f "$file"; return 0; }
  local pid
  pid="$(cat "$file")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$file"
}

# --- RabbitMQ ---------------------------------------------------------------

rabbit_home() { echo "$CLUSTERS_DIR/rabbitmq"; }
rabbit_node() { echo "teal-cluster-$1@localhost"; }

rabbitmqctl_n() {
  local node="$1"
  shift
  HOME="$(rabbit_home)" RABBITMQ_CONF_ENV_FILE=/dev/null \
    /usr/lib/rabbitmq/bin/rabbitmqctl -n "$node" "$@"
}

rabbit_start_node() {
  local index="$1" port="${RABBIT_PORTS[$(($1 - 1))]}"
  local dir
  dir="$(rabbit_home)/node$index"
  local pidfile="$dir/rabbit.pid"
  if port_answers "$port"; then return 0; fi
  mkdir -p "$dir/mnesia" "$dir/log"
  cat >"$dir/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$port
loopback_users = none
EOF
  log "starting RabbitMQ node $index on port $port"
  HOME="$(rabbit_home)" \
    RABBITMQ_NODENAME="$(rabbit_node "$index")" \
    RABBITMQ_NODE_PORT="$port" \
    RABBITMQ_DIST_PORT="$((25700 + index))" \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" \
    RABBITMQ_LOG_BASE="$dir/log" \
    RABBITMQ_PID_FILE="$pidfile" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq" \
    RABBITMQ_CONF_ENV_FILE=/dev/null \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    ERL_EPMD_ADDRESS=127.0.0.1 \
    ERL_CRASH_DUMP="$dir/log/erl_crash.dump" \
    setsid /usr/lib/rabbitmq/bin/rabbitmq-server >"$dir/log/stdout.log" 2>&1 &
}

rabbit_up() {
  mkdir -p "$(rabbit_home)"
  local cookie
  cookie="$(rabbit_home)/.erlang.cookie"
  if [[ ! -f "$cookie" ]]; then
    head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$cookie"
    chmod 400 "$cookie"
  fi
  for index in 1 2 3; do rabbit_start_node "$index"; done
  for index in 1 2 3; do
    wait_until "RabbitMQ node $index" rabbitmqctl_n "$(rabbit_node "$index")" await_startup
  done
  for index in 2 3; do
    local node
    node="$(rabbit_node "$index")"
    if ! rabbitmqctl_n "$node" cluster_status --formatter json 2>/dev/null |
      grep -q "$(rabbit_node 1)"; then
      log "joining RabbitMQ node $index to node 1"
      rabbitmqctl_n "$node" stop_app >/dev/null
      rabbitmqctl_n "$node" join_cluster "$(rabbit_node 1)" >/dev/null
      rabbitmqctl_n "$node" start_app >/dev/null
    fi
  done
  wait_until "the RabbitMQ cluster" rabbit_healthy
}

rabbit_healthy() {
  local running
  running="$(rabbitmqctl_n "$(rabbit_node 1)" cluster_status --formatter json)"
  for index in 1 2 3; do grep -q "\"running_nodes\":\[[^]]*$(rabbit_node "$index")" <<<"$running" || return 1; done
}

rabbit_down() {
  for index in 1 2 3; do
    local dir pidfile
    dir="$(rabbit_home)/node$index"
    pidfile="$dir/rabbit.pid"
    if pid_alive "$pidfile"; then
      rabbitmqctl_n "$(rabbit_node "$index")" stop >/dev/null 2>&1 || stop_pid "$pidfile"
    fi
    rm -f "$pidfile"
  done
}

# --- NATS -------------------------------------------------------------------

nats_up() {
  local routes="" index
  for index in 1 2 3; do routes+="nats-route://127.0.0.1:$((6300 + index)),"; done
  # A cluster started from nothing starts empty: the streams of a run stopped midway (it
  # deletes them at its end) would otherwise hold elections at every restart of a server.
  if ! port_answers "${NATS_PORTS[0]}" && ! port_answers "${NATS_PORTS[1]}" &&
    ! port_answers "${NATS_PORTS[2]}"; then
    rm -rf "$CLUSTERS_DIR/nats"
  fi
  for index in 1 2 3; do
    local dir="$CLUSTERS_DIR/nats/node$index" port="${NATS_PORTS[$((index - 1))]}"
    if port_answers "$port"; then continue; fi
    mkdir -p "$dir/store"
    cat >"$dir/server.conf" <<EOF
server_name: teal-nats-$index
listen: 127.0.0.1:$port
http: 127.0.0.1:$((8300 + index))
jetstream { store_dir: "$dir/store" }
cluster {
  name: teal-nats
  listen: 127.0.0.1:$((6300 + index))
  routes: [${routes%,}]
}
EOF
    log "starting NATS server $index on port $port"
    setsid /usr/sbin/nats-server -c "$dir/server.conf" -P "$dir/nats.pid" -l "$dir/nats.log" \
      </dev/null >/dev/null 2>&1 &
  done
  wait_until "the NATS cluster" nats_healthy
}

nats_healthy() {
  local index
  for index in 1 2 3; do
    # Each server routes to the other two, and JetStream has a meta leader.
    curl -sf "http://127.0.0.1:$((8300 + index))/routez" | grep -q '"num_routes": 2' || return 1
    curl -sf "http://127.0.0.1:$((8300 + index))/jsz" | grep -q '"leader"' || return 1
  done
}

nats_down() {
  local index
  for index in 1 2 3; do stop_pid "$CLUSTERS_DIR/nats/node$index/nats.pid"; done
}

# --- Redis ------------------------------------------------------------------

redis_start() {
  local port="$1" dir="$2"
  shift 2
  if port_answers "$port"; then return 0; fi
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" --appendonly no "$@"
}

# Whether a live node of the cluster still counts the (dead) node on port $1 as a master with slots.
redis_cluster_counts_on() {
  local port="$1" live
  for live in "${REDIS_CLUSTER_PORTS[@]}"; do
    [[ "$live" != "$port" ]] && port_answers "$live" || continue
    redis-cli -p "$live" cluster nodes |
      awk -v node="127.0.0.1:$port@" 'index($2, node) == 1 && $3 ~ /master/ && NF > 8 { found = 1 }
        END { exit !found }'
    return
  done
  return 1
}

redis_cluster_failed_over() { ! redis_cluster_counts_on "$1"; }

redis_cluster_up() {
  local port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    # A master that died is restarted only once its replica took over: back before that, empty
    # (no persistence), it would keep its slots and its replica would copy its emptiness.
    if ! port_answers "$port" && redis_cluster_counts_on "$port"; then
      log "waiting for the Redis Cluster to fail over from the dead master on port $port"
      wait_until "a failover away from port $port" redis_cluster_failed_over "$port"
    fi
    redis_start "$port" "$CLUSTERS_DIR/redis-cluster/$port" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 3000
  done
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do wait_until "Redis $port" port_answers "$port"; done
  if ! redis-cli -p 7001 cluster info | grep -q 'cluster_state:ok'; then
    log "creating the Redis Cluster"
    local nodes=()
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >/dev/null
  fi
  wait_until "the Redis Cluster" redis_cluster_healthy
}

redis_cluster_healthy() {
  redis-cli -p 7001 cluster info | grep -q 'cluster_state:ok' || return 1
  # A master killed before its replica synced leaves the cluster down for good.
  local port replicas=0
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    if redis-cli -p "$port" info replication | grep -q 'role:slave'; then
      redis-cli -p "$port" info replication | grep -q 'master_link_status:up' || return 1
      replicas=$((replicas + 1))
    fi
  done
  ((replicas == 3))
}

# The port of the master the sentinels name now (after a failover, not the first port).
sentinel_master_port() {
  local port answer
  for port in "${SENTINEL_PORTS[@]}"; do
    answer="$(redis-cli -p "$port" sentinel get-master-addr-by-name teal 2>/dev/null | sed -n 2p)"
    if [[ "$answer" =~ ^[0-9]+$ ]]; then
      echo "$answer"
      return 0
    fi
  done
  return 1
}

sentinel_master_answers() { port_answers "$(sentinel_master_port)"; }

sentinel_up() {
  local index port master
  # A node restarts as a replica of the master the sentinels name now. A master that died is
  # restarted only once they failed over: back before that, empty (no persistence), it would
  # stay master and its replicas would copy its emptiness.
  if master="$(sentinel_master_port)" && ! port_answers "$master"; then
    log "waiting for the sentinels to fail over from the dead master on port $master"
    wait_until "a failover away from port $master" sentinel_master_answers
    master="$(sentinel_master_port)"
  fi
  master="${master:-${SENTINEL_REDIS_PORTS[0]}}"
  for port in "${SENTINEL_REDIS_PORTS[@]}"; do
    if [[ "$port" == "$master" ]]; then
      redis_start "$port" "$CLUSTERS_DIR/sentinel/redis-$port"
    else
      redis_start "$port" "$CLUSTERS_DIR/sentinel/redis-$port" --replicaof 127.0.0.1 "$master"
    fi
  done
  for index in 0 1 2; do
    port="${SENTINEL_PORTS[$index]}"
    local dir="$CLUSTERS_DIR/sentinel/sentinel-$port"
    if port_answers "$port"; then continue; fi
    mkdir -p "$dir"
    cat >"$dir/sentinel.conf" <<EOF
port $port
bind 127.0.0.1
daemonize yes
pidfile $dir/sentinel.pid
logfile $dir/sentinel.log
dir $dir
sentinel monitor teal 127.0.0.1 ${SENTINEL_REDIS_PORTS[0]} 2
sentinel down-after-milliseconds teal 2000
sentinel failover-timeout teal 10000
sentinel parallel-syncs teal 1
EOF
    log "starting Redis Sentinel on port $port"
    redis-server "$dir/sentinel.conf" --sentinel
  done
  wait_until "Redis Sentinel" sentinel_healthy
}

sentinel_healthy() {
  local port
  for port in "${SENTINEL_PORTS[@]}"; do
    redis-cli -p "$port" sentinel master teal | grep -qx 'num-other-sentinels' || return 1
    [[ "$(redis-cli -p "$port" sentinel master teal | sed -n '/^num-other-sentinels$/{n;p}')" == 2 ]] || return 1
    [[ "$(redis-cli -p "$port" sentinel master teal | sed -n '/^num-slaves$/{n;p}')" == 2 ]] || return 1
  done
  # Replicas are in sync with whichever node is the master now.
  for port in "${SENTINEL_REDIS_PORTS[@]}"; do
    if redis-cli -p "$port" info replication | grep -q 'role:slave'; then
      redis-cli -p "$port" info replication | grep -q 'master_link_status:up' || return 1
    fi
  done
}

redis_cluster_down() {
  local file
  for file in "$CLUSTERS_DIR"/redis-cluster/*/redis.pid; do
    [[ -e "$file" ]] && stop_pid "$file"
  done
  # A cluster's node files name the others: a fresh start must not reuse them.
  rm -rf "$CLUSTERS_DIR/redis-cluster"
}

sentinel_down() {
  local file
  for file in "$CLUSTERS_DIR"/sentinel/*/sentinel.pid "$CLUSTERS_DIR"/sentinel/*/redis.pid; do
    [[ -e "$file" ]] && stop_pid "$file"
  done
  rm -rf "$CLUSTERS_DIR/sentinel"
}

# --- commands ---------------------------------------------------------------

print_env() {
  cat <<EOF
TEAL_RABBITMQ_CLUSTER_URL=amqp://guest:guest@127.0.0.1:5701,127.0.0.1:5702,127.0.0.1:5703
TEAL_NATS_CLUSTER_URL=nats://127.0.0.1:4301,127.0.0.1:4302,127.0.0.1:4303
TEAL_REDIS_CLUSTER_URL=redis://127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003?cluster=true
TEAL_REDIS_SENTINEL_URL=redis+sentinel://127.0.0.1:27101,127.0.0.1:27102,127.0.0.1:27103/teal
TEAL_CLUSTERS_DIR=$CLUSTERS_DIR
EOF
}

status() {
  local port
  for port in "${RABBIT_PORTS[@]}" "${NATS_PORTS[@]}" "${REDIS_CLUSTER_PORTS[@]}" \
    "${SENTINEL_REDIS_PORTS[@]}" "${SENTINEL_PORTS[@]}"; do
    if port_answers "$port"; then echo "$port up"; else echo "$port down"; fi
  done
}

ALL_CLUSTERS=(redis-cluster sentinel nats rabbitmq)

# The clusters named after the command, or all of them.
selected() {
  if (($# == 0)); then set -- "${ALL_CLUSTERS[@]}"; fi
  local name
  for name in "$@"; do
    case "$name" in
      rabbitmq | nats | redis-cluster | sentinel) echo "$name" ;;
      *)
        log "unknown cluster '$name' (rabbitmq, nats, redis-cluster, sentinel)"
        return 2
        ;;
    esac
  done
}

command="${1:-}"
shift || true
case "$command" in
  up)
    names="$(selected "$@")"
    mkdir -p "$CLUSTERS_DIR"
    for name in $names; do
      case "$name" in
        redis-cluster) redis_cluster_up ;;
        sentinel) sentinel_up ;;
        nats) nats_up ;;
        rabbitmq) rabbit_up ;;
      esac
    done
    log "healthy: $(echo $names)"
    ;;
  down)
    names="$(selected "$@")"
    for name in $names; do
      case "$name" in
        rabbitmq) rabbit_down ;;
        nats) nats_down ;;
        redis-cluster) redis_cluster_down ;;
        sentinel) sentinel_down ;;
      esac
    done
    log "stopped: $(echo $names)"
    ;;
  status) status ;;
  env) print_env ;;
  *)
    echo "usage: bash .ci/clusters.sh up [cluster…] | down [cluster…] | status | env" >&2
    exit 2
    ;;
esac
