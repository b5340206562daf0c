#!/usr/bin/env bash
# Smoke run with redis-cli (Debian's redis-tools): the basics, then the
# interactive hint redis-cli shows after typing "SET " (it builds hints
# from the server's COMMAND DOCS when available, else from its own table).
# Usage: tests/smoke/redis_cli.sh PORT
set -euo pipefail
port=$1
cli() { redis-cli -p "$port" "$@"; }
check() {
  local want=$1
  shift
  local got
  got=$(cli "$@")
  [ "$got" = "$want" ] || { echo "FAIL: redis-cli $* -> '$got', expected '$want'"; exit 1; }
}
check PONG PING
check OK FLUSHALL
check OK SET greeting hello
check hello GET greeting
check 1 INCR counter
check 1 EXPIRE greeting 100
check 100 TTL greeting
cli CLIENT LIST | grep -q "cmd=client|list" || { echo "FAIL: CLIENT LIST"; exit 1; }
cli INFO server | grep -q "redis_version:7.0.15" || { echo "FAIL: INFO"; exit 1; }
check "$(printf 'maxclients\n10000')" CONFIG GET maxclients

if command -v tmux >/dev/null; then
  session=rudis-smoke-$$
  tmux new-session -d -s "$session" -x 120 -y 10 "redis-cli -p $port"
  sleep 1
  # "help set" shows the summary from the server's COMMAND DOCS: rudis's own
  # wording proves redis-cli built its help from rudis.
  tmux send-keys -t "$session" "help set" Enter
  summary=""
  for _ in $(seq 50); do
    summary=$(tmux capture-pane -p -t "$session" | grep -F "summary:" || true)
    [ -n "$summary" ] && break
    sleep 0.1
  done
  case "$summary" in
    *"Stores a string at a key, with conditions and expiry options."*) echo "help from COMMAND DOCS: $summary" ;;
    *) echo "FAIL: 'help set' did not use COMMAND DOCS: '$summary'"; tmux kill-session -t "$session"; exit 1 ;;
  esac
  tmux send-keys -t "$session" "SET "
  hint=""
  for _ in $(seq 50); do
    hint=$(tmux capture-pane -p -t "$session" | grep -F "SET " || true)
    case "$hint" in *"key value"*) break ;; esac
    sleep 0.1
  done
  tmux kill-session -t "$session"
  case "$hint" in
    *"key value"*) echo "interactive hint: $hint" ;;
    *) echo "FAIL: no hint after 'SET ': '$hint'"; exit 1 ;;
  esac
else
  echo "(tmux not installed: interactive hint not checked)"
fi
echo "redis-cli smoke run: ok"
