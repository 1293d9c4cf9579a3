#!/usr/bin/env bash
# Benchmark of the portal (issue "Client portal"): GET /dashboard as a
# signed-in member, 16 connections, 10 s, on the release binary with SQLite;
# then the bytes of a first visit (the page and every asset it loads), raw
# and gzip-compressed. Bounded in time, loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bizosaas/target}"
command -v wrk >/dev/null || { apt-get update -qq >/dev/null; apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p bizosaas
BIN="$CARGO_TARGET_DIR/release/bizosaas"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$port"
"$BIN" --data-dir "$WORK/data" serve --listen "127.0.0.1:$port" >/dev/null 2>"$WORK/log" &
until curl -sf -o /dev/null "$BASE/readyz"; do sleep 0.05; done
# Registration waits for an emailed link; the operator commands make the account at once.
"$BIN" --data-dir "$WORK/data" admin create-tenant --name Bench >/dev/null
echo "correct horse battery" | "$BIN" --data-dir "$WORK/data" admin create-user --email bench@acme.io --tenant bench --role owner >/dev/null
session=$(curl -sf -X POST "$BASE/auth/login" -H 'content-type: application/json' \
  -d '{"email":"bench@acme.io","password":"correct horse battery"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"])')
cookie="bzs_session=$session; bzs_csrf=$(python3 -c 'print("a"*43)')"
echo "== GET /dashboard, ${CONNS:-16} connections, ${DURATION:-10s}"
wrk -t2 -c"${CONNS:-16}" -d"${DURATION:-10s}" --latency -H "Cookie: $cookie" "$BASE/dashboard" \
  | grep -E "Requests/sec|50%|75%|90%|99%|Non-2xx"
echo "== first visit: bytes (raw / gzip -6)"
total=0; gz=0
for path in /dashboard /assets/app.css /assets/app.js /assets/htmx.min.js /assets/favicon.svg; do
  curl -sf -H "Cookie: $cookie" "$BASE$path" -o "$WORK/body"
  raw=$(stat -c %s "$WORK/body"); z=$(gzip -6 -c "$WORK/body" | wc -c)
  printf '%-22s %7d %7d\n' "$path" "$raw" "$z"
  total=$((total + raw)); gz=$((gz + z))
done
printf '%-22s %7d %7d\n' "total" "$total" "$gz"
