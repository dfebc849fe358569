#!/usr/bin/env bash
# Starts whichever of RabbitMQ, Redis, NATS and PostgreSQL does not answer on its local
# port, then waits until each answers. CI runs it before the tests; developers
# can run it too (with the rights to start these services):
#
#   bash .ci/brokers.sh
#
# Sourced, it only defines start_missing_brokers and wait_for_brokers, so that
# .ci/run can install dependencies while the brokers boot.

# RabbitMQ takes the longest to boot; a minute covers a cold start on a slow runner.
BROKER_WAIT_SECONDS="${BROKER_WAIT_SECONDS:-60}"

# name, port, the URL variable the tests read, and its default.
BROKERS=(
  "RabbitMQ 5672 AMQP_URL amqp://guest:guest@127.0.0.1:5672"
  "Redis 6379 REDIS_URL redis://127.0.0.1:6379"
  "NATS 4222 NATS_URL nats://127.0.0.1:4222"
  "PostgreSQL 5432 POSTGRES_URL postgres://postgres@127.0.0.1:5432/test"
)

port_answers() {
  timeout 1 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# A URL variable pointing elsewhere means someone else runs that broker.
uses_local_default() {
  local variable="$1" default_url="$2"
  [[ -z "${!variable:-}" || "${!variable}" == "$default_url" ]]
}

start_broker() {
  case "$1" in
    RabbitMQ)
      rabbitmq-server -detached
      ;;
    Redis)
      mkdir -p /var/lib/redis /var/log/redis
      redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
      ;;
    NATS)
      mkdir -p /var/lib/nats-server
      start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
      ;;
    PostgreSQL)
      # Debian's cluster, whatever its major version.
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
      ;;
  esac
}

start_missing_brokers() {
  local entry name port variable default_url
  for entry in "${BROKERS[@]}"; do
    read -r name port variable default_url <<<"$entry"
    if ! uses_local_default "$variable" "$default_url"; then
      echo "brokers: $name is not started here, $variable points elsewhere"
    elif port_answers "$port"; then
      echo "brokers: $name answers on port $port"
    else
      echo "brokers: starting $name on port $port"
      start_broker "$name" || echo "brokers: could not start $name" >&2
    fi
  done
}

# Returns non-zero when a local broker still does not answer after the wait.
wait_for_brokers() {
  local entry name port variable default_url waited silent=0
  for entry in "${BROKERS[@]}"; do
    read -r name port variable default_url <<<"$entry"
    uses_local_default "$variable" "$default_url" || continue
    waited=0
    until port_answers "$port"; do
      if ((waited >= BROKER_WAIT_SECONDS)); then
        echo "brokers: $name does not answer on port $port after ${BROKER_WAIT_SECONDS} s" >&2
        silent=1
        continue 2
      fi
      sleep 1
      waited=$((waited + 1))
    done
    echo "brokers: $name is ready on port $port"
  done
  return "$silent"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  start_missing_brokers
  wait_for_brokers
fi
