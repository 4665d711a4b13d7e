#!/usr/bin/env bash
# Starts the RabbitMQ broker the dedupe-rabbitmq tests talk to: Debian's rabbitmq-server
# (apt-get install rabbitmq-server), bound to loopback only, its AMQP, distribution and epmd
# ports all non-default so that it never meets a broker already on the machine.
#
#   rabbitmq-adapter/src/test/broker/start-rabbitmq.sh         # start (no-op if one answers)
#   rabbitmq-adapter/src/test/broker/start-rabbitmq.sh stop    # stop the one this script started
#
# Idempotent: when something already answers on the AMQP port it does nothing, so .ci/run and
# a developer can both call it. The tests find the broker at DEDUPE_RABBITMQ_HOST:PORT
# (default 127.0.0.1:5673), guest/guest (allowed from loopback only, which is all we listen on).
set -euo pipefail

port="${DEDUPE_RABBITMQ_PORT:-5673}"
dist_port="${DEDUPE_RABBITMQ_DIST_PORT:-25673}"
epmd_port="${DEDUPE_RABBITMQ_EPMD_PORT:-4370}"
base="${DEDUPE_RABBITMQ_BASE:-${TMPDIR:-/tmp}/dedupe-rabbitmq-$port}"
server=/usr/lib/rabbitmq/bin/rabbitmq-server

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

export HOME="$base"   # the Erlang cookie lives here, not in the caller's home
export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$epmd_port"

if [[ "${1:-start}" == stop ]]; then
  if [[ -f "$base/broker.pid" ]]; then
    pid="$(cat "$base/broker.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    rm -f "$base/broker.pid"
  fi
  # epmd outlives the node; only ours listens on this port.
  command -v epmd >/dev/null 2>&1 && epmd -kill >/dev/null 2>&1 || true
  echo "rabbitmq on 127.0.0.1:$port: stopped"
  exit 0
fi

if answers; then
  echo "rabbitmq: something already answers on 127.0.0.1:$port; using it"
  exit 0
fi
if [[ ! -x "$server" ]]; then
  echo "rabbitmq: $server is missing; install Debian's rabbitmq-server first" >&2
  exit 1
fi

mkdir -p "$base/mnesia" "$base/log"
printf '[].\n' >"$base/enabled_plugins.conf"
cat >"$base/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
loopback_users.guest = true
log.console = false
CONF

export RABBITMQ_NODENAME="dedupe-test-$port@localhost"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port"
export RABBITMQ_DIST_PORT="$dist_port"
export RABBITMQ_MNESIA_BASE="$base/mnesia" RABBITMQ_LOG_BASE="$base/log"
export RABBITMQ_ENABLED_PLUGINS_FILE="$base/enabled_plugins.conf"
export RABBITMQ_CONFIG_FILE="$base/rabbitmq.conf"
export RABBITMQ_PID_FILE="$base/rabbitmq.pid"
# The distribution port range is one port, on loopback (inet_dist_use_interface).
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"

setsid "$server" >"$base/log/stdout.log" 2>&1 </dev/null &
echo $! >"$base/broker.pid"

for _ in $(seq 1 240); do
  if answers; then
    echo "rabbitmq: up on 127.0.0.1:$port (data and logs in $base)"
    exit 0
  fi
  if ! kill -0 "$(cat "$base/broker.pid")" 2>/dev/null; then
    tail -n 40 "$base/log/stdout.log" >&2
    echo "rabbitmq: the broker exited before it answered on 127.0.0.1:$port" >&2
    exit 1
  fi
  sleep 0.5
done
tail -n 40 "$base/log/stdout.log" >&2
echo "rabbitmq: no answer on 127.0.0.1:$port after 120 s" >&2
exit 1
