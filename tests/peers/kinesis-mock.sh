#!/usr/bin/env bash
# Starts and stops a kinesis-mock (npm kinesis-local) on 127.0.0.1 for tests.
#
# Usage:
#   tests/peers/kinesis-mock.sh start [--state DIR] [--streams name:shards[:region],...]
#   tests/peers/kinesis-mock.sh stop  [--state DIR]
#
# `start` prints, on stdout, once every initial stream is ACTIVE:
#   KINESIS_MOCK_ENDPOINT=http://127.0.0.1:PORT
#   KINESIS_MOCK_TLS_ENDPOINT=https://127.0.0.1:PORT   (self-signed certificate)
#   KINESIS_MOCK_PID=PID
#   KINESIS_MOCK_REGION=us-east-1
#   KINESIS_MOCK_ACCOUNT_ID=000000000000
# and writes the same lines to DIR/env. Progress and errors go to stderr, the
# peer's log to DIR/kinesis-mock.log.
#
# DIR (default: $KINESIS_MOCK_STATE, else .tools/state/kinesis-mock) holds the
# state of one instance; give each concurrent instance its own.
#
# Region and account: kinesis-mock namespaces streams by region and account.
# Its defaults are us-east-1 and 000000000000 (set here explicitly; override
# with KINESIS_MOCK_REGION / KINESIS_MOCK_ACCOUNT_ID). It requires an
# Authorization header but never checks signatures, so any credentials work;
# the region of the request's signature selects which streams it sees, and an
# access key id of exactly 12 digits is taken as the account id, so use a
# non-numeric one (e.g. "test") to stay in the default account.
#
# Behaviour that differs from Kinesis:
# no 500-entry or request-size limit on PutRecords; data over 1 MiB fails only
# its own entry (InvalidArgumentException) and the partition key is not
# counted; with NextToken, ListShards accepts only NextToken and MaxResults
# (the ShardFilter is kept in the token); shard boundaries differ by one from
# the ones Kinesis computes, so read them with ListShards.
#
# Durations of stream state changes default to 100ms here (override with the
# peer's own variables, e.g. CREATE_STREAM_DURATION=2s); LOG_LEVEL is taken
# from KINESIS_MOCK_LOG_LEVEL (default INFO).
set -euo pipefail

PEERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$PEERS_DIR/../.." && pwd)"
PACKAGE_DIR="$REPO_ROOT/.tools/node/node_modules/kinesis-local"
READY_TIMEOUT_MS=30000
# kinesis-mock's graceful shutdown waits for clients' idle keep-alive
# connections to close (SDK clients keep them); it has nothing to save,
# so after a short grace period it is killed.
STOP_GRACE_S=2

log() { printf 'kinesis-mock: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '4,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# True while PID exists and is not just an unreaped zombie. A zombie leader
# whose other threads are still exiting still holds the sockets, so it counts
# as alive until only the leader is left in /proc/PID/task.
is_alive() {
  local pid="$1" stat threads
  kill -0 "$pid" 2>/dev/null || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat:0:1}" == Z ]] || return 0
  threads="$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
  ((threads > 1))
}

# Prints the recorded PID if that process is alive and is still a
# kinesis-mock (guards against a reused PID).
running_pid() {
  local pid_file="$1/pid" pid
  [[ -f "$pid_file" ]] || return 1
  pid="$(cat "$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  is_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kinesis-local/main.js' || return 1
  echo "$pid"
}

# Lists "address:port" of every TCP socket that process PID listens on.
listening_addresses() {
  local pid="$1"
  if command -v ss >/dev/null; then
    ss -Hltnp | awk -v tag="pid=$pid," 'index($0, tag) { print $4 }'
    return
  fi
  # Without ss (no iproute2): match the process's socket inodes against the
  # LISTEN (0A) entries of /proc/net; 0100007F is 127.0.0.1 in kernel order.
  local inodes _ local_address state inode
  inodes=" $(find "/proc/$pid/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null |
    sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ') "
  while read -r _ local_address _ state _ _ _ _ _ inode _; do
    [[ "$state" == 0A && "$inodes" == *" $inode "* ]] || continue
    if [[ "${local_address%:*}" == 0100007F ]]; then
      echo "127.0.0.1:$((16#${local_address#*:}))"
    else
      echo "$local_address"
    fi
  done < <(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
}

# Self-check: every listening socket of the peer must be on 127.0.0.1.
check_loopback_only() {
  local pid="$1" addresses address
  addresses="$(listening_addresses "$pid")"
  if [[ -z "$addresses" ]]; then
    log "found no listening socket of PID $pid"
    return 1
  fi
  for address in $addresses; do
    if [[ "$address" != 127.0.0.1:* ]]; then
      log "PID $pid listens on $address, not on 127.0.0.1 only"
      return 1
    fi
  done
}

# SIGTERM, then SIGKILL after the grace period; returns once the process is
# gone (or after 5 more seconds, leaving the caller to report it).
stop_pid() {
  local pid="$1" tenths=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while is_alive "$pid" && ((tenths < (STOP_GRACE_S + 5) * 10)); do
    if ((tenths == STOP_GRACE_S * 10)); then
      log "PID $pid still up ${STOP_GRACE_S}s after SIGTERM (open client connections); sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.1
    tenths=$((tenths + 1))
  done
  # A process started by this shell must be reaped, or it stays a zombie.
  wait "$pid" 2>/dev/null || true
}

cmd_start() {
  local state="$1" streams="$2"
  [[ -f "$PACKAGE_DIR/main.js" ]] || die "kinesis-local is not installed; run tests/tools/setup.sh node"
  command -v node >/dev/null || die "node not found"
  mkdir -p "$state"
  state="$(cd "$state" && pwd)"
  if running_pid "$state" >/dev/null; then
    die "already running with state dir $state (PID $(running_pid "$state")); stop it first"
  fi
  rm -f "$state/pid" "$state/env" "$state/ports"

  local region="${KINESIS_MOCK_REGION:-us-east-1}"
  local account="${KINESIS_MOCK_ACCOUNT_ID:-000000000000}"
  local started_ms pid
  started_ms="$(date +%s%3N)"
  log "starting (state dir $state, streams '${streams}')"

  # Port 0: the OS picks free ports; loopback.js reports them in $state/ports.
  # The peer runs in the state dir, so nothing lands in the caller's cwd.
  (
    cd "$state"
    export KINESIS_MOCK_PLAIN_PORT=0 KINESIS_MOCK_TLS_PORT=0
    export KINESIS_MOCK_CERT_PATH="$PACKAGE_DIR/server.json"
    export LOOPBACK_LISTEN_REPORT="$state/ports"
    # The peer rejects an empty INITIALIZE_STREAMS: leave it unset instead.
    unset INITIALIZE_STREAMS
    [[ -z "$streams" ]] || export INITIALIZE_STREAMS="$streams"
    export AWS_REGION="$region" AWS_ACCOUNT_ID="$account"
    export LOG_LEVEL="${KINESIS_MOCK_LOG_LEVEL:-INFO}"
    # Never load or write a data file: every start begins empty.
    export LOAD_DATA_IF_EXISTS=false SHOULD_PERSIST_DATA=false PERSIST_PATH="$state/data"
    local name
    for name in CREATE_STREAM DELETE_STREAM REGISTER_STREAM_CONSUMER DEREGISTER_STREAM_CONSUMER \
      START_STREAM_ENCRYPTION STOP_STREAM_ENCRYPTION MERGE_SHARDS SPLIT_SHARD \
      UPDATE_SHARD_COUNT UPDATE_STREAM_MODE; do
      name="${name}_DURATION"
      export "$name=${!name:-100ms}"
    done
    # No stdio of the caller may stay open in the peer: a caller reading
    # this script's stdout would otherwise wait for the peer to exit.
    exec node -r "$PEERS_DIR/loopback.js" "$PACKAGE_DIR/main.js" \
      </dev/null >"$state/kinesis-mock.log" 2>&1
  ) &
  pid=$!
  echo "$pid" >"$state/pid"

  local port
  if ! port="$(node "$PEERS_DIR/kinesis-ready.js" --pid "$pid" --ports-file "$state/ports" \
    --timeout-ms "$READY_TIMEOUT_MS" --region "$region" --streams "$streams")"; then
    log "last lines of $state/kinesis-mock.log:"
    tail -n 20 "$state/kinesis-mock.log" >&2 || true
    stop_pid "$pid"
    rm -f "$state/pid"
    die "did not become ready"
  fi
  if ! check_loopback_only "$pid"; then
    stop_pid "$pid"
    rm -f "$state/pid"
    die "refusing to run a peer reachable from outside this machine"
  fi

  local tls_port
  tls_port="$(grep -v -x "$port" "$state/ports" | head -n 1)"
  {
    echo "KINESIS_MOCK_ENDPOINT=http://127.0.0.1:$port"
    echo "KINESIS_MOCK_TLS_ENDPOINT=https://127.0.0.1:$tls_port"
    echo "KINESIS_MOCK_PID=$pid"
    echo "KINESIS_MOCK_REGION=$region"
    echo "KINESIS_MOCK_ACCOUNT_ID=$account"
  } >"$state/env"
  cat "$state/env"
  log "ready in $(($(date +%s%3N) - started_ms)) ms (PID $pid, port $port)"
}

cmd_stop() {
  local state="$1" pid
  if ! pid="$(running_pid "$state")"; then
    log "not running (state dir $state)"
    rm -f "$state/pid" "$state/env"
    return
  fi
  stop_pid "$pid"
  ! is_alive "$pid" || die "PID $pid is still alive"
  rm -f "$state/pid" "$state/env"
  log "stopped PID $pid"
}

main() {
  [[ $# -ge 1 ]] || usage
  local command="$1"
  shift
  local state="${KINESIS_MOCK_STATE:-$REPO_ROOT/.tools/state/kinesis-mock}"
  local streams=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --state) state="${2:?--state needs a directory}"; shift 2 ;;
      --streams) streams="${2:?--streams needs name:shards,...}"; shift 2 ;;
      *) usage ;;
    esac
  done
  case "$command" in
    start) cmd_start "$state" "$streams" ;;
    stop) cmd_stop "$state" ;;
    *) usage ;;
  esac
}

main "$@"
