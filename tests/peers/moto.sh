#!/usr/bin/env bash
# Starts and stops a moto server (PyPI moto[server]) on 127.0.0.1 for tests:
# the local STS and CloudWatch peer.
#
# Usage:
#   tests/peers/moto.sh start [--state DIR]
#   tests/peers/moto.sh stop  [--state DIR]
#
# `start` prints, on stdout, once the server answers:
#   MOTO_ENDPOINT=http://127.0.0.1:PORT
#   MOTO_PID=PID
# and writes the same lines to DIR/env. The server's log goes to DIR/moto.log.
# DIR (default: $MOTO_STATE, else .tools/state/moto) holds one instance.
#
# moto accepts any credentials and never checks signatures; its account is
# 123456789012. It speaks STS (query protocol) and CloudWatch through the
# query and JSON protocols only, not RPC v2 CBOR.
set -euo pipefail

PEERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$PEERS_DIR/../.." && pwd)"
PYTHON="$REPO_ROOT/.tools/venv/bin/python"
READY_TIMEOUT_S=30

log() { printf 'moto: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() {
  sed -n '5,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

running_pid() {
  local pid_file="$1/pid" pid
  [[ -f "$pid_file" ]] || return 1
  pid="$(cat "$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'moto' || return 1
  echo "$pid"
}

stop_pid() {
  local pid="$1" tenths=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && ((tenths < 50)); do
    sleep 0.1
    tenths=$((tenths + 1))
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cmd_start() {
  local state="$1" port pid deadline
  [[ -x "$PYTHON" ]] || die "the test venv is missing; run tests/tools/setup.sh python"
  mkdir -p "$state"
  state="$(cd "$state" && pwd)"
  if pid="$(running_pid "$state")"; then
    die "already running with state dir $state (PID $pid); stop it first"
  fi
  rm -f "$state/pid" "$state/env"
  # A free loopback port, chosen by the OS.
  port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$PYTHON" -m moto.server -H 127.0.0.1 -p "$port" </dev/null >"$state/moto.log" 2>&1 &
  pid=$!
  echo "$pid" >"$state/pid"
  deadline=$((SECONDS + READY_TIMEOUT_S))
  until "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "http://127.0.0.1:$port/moto-api/" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS > deadline)); then
      tail -n 20 "$state/moto.log" >&2 || true
      stop_pid "$pid"
      rm -f "$state/pid"
      die "did not become ready"
    fi
    sleep 0.2
  done
  {
    echo "MOTO_ENDPOINT=http://127.0.0.1:$port"
    echo "MOTO_PID=$pid"
  } >"$state/env"
  cat "$state/env"
  log "ready (PID $pid, port $port)"
}

cmd_stop() {
  local state="$1" pid
  if ! pid="$(running_pid "$state")"; then
    log "not running (state dir $state)"
    rm -f "$state/pid" "$state/env"
    return
  fi
  stop_pid "$pid"
  rm -f "$state/pid" "$state/env"
  log "stopped PID $pid"
}

main() {
  [[ $# -ge 1 ]] || usage
  local command="$1" state="${MOTO_STATE:-$REPO_ROOT/.tools/state/moto}"
  shift
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --state) state="${2:?--state needs a directory}"; shift 2 ;;
      *) usage ;;
    esac
  done
  case "$command" in
    start) cmd_start "$state" ;;
    stop) cmd_stop "$state" ;;
    *) usage ;;
  esac
}

main "$@"
