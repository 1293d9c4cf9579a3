#!/usr/bin/env bash
# Benchmark of sign-in (issue "Identity"): POST /auth/login with the right
# password, 2 connections, 10 s, on the release binary with SQLite. The
# argon2id cost dominates, by design; the per-address throttle is raised for
# the run. Bounded in time, loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bizosaas/target}"
command -v wrk >/dev/null || { apt-get update -qq >/dev/null; apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p bizosaas
BIN="$CARGO_TARGET_DIR/release/bizosaas"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BIZOS_AUTH_LOGIN_ATTEMPTS_PER_MINUTE=1000000 "$BIN" --data-dir "$WORK/data" serve --listen "127.0.0.1:$port" >/dev/null 2>"$WORK/log" &
until curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; do sleep 0.05; done
body='{"email":"bench@acme.io","password":"correct horse battery"}'
"$BIN" --data-dir "$WORK/data" admin create-tenant --name Bench >/dev/null
echo "correct horse battery" | "$BIN" --data-dir "$WORK/data" admin create-user --email bench@acme.io --tenant bench --role owner >/dev/null
cat >"$WORK/login.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
wrk -t1 -c"${CONNS:-2}" -d"${DURATION:-10s}" --latency -s "$WORK/login.lua" "http://127.0.0.1:$port/auth/login" \
  | grep -E "Requests/sec|50%|90%|99%|Non-2xx"
