#!/usr/bin/env bash
# Benchmark of issue "Foundation": GET /api/v1/audit-logs?limit=50 on a tenant
# with 10,000 entries, 32 connections, 15 s, against /healthz in the same run;
# plus start-to-ready time on an empty data dir and RSS idle and under load.
# Runs on SQLite and on PostgreSQL (the test cluster of scripts/services.sh).
# Bounded: each wrk run lasts DURATION seconds against 127.0.0.1 only.
#
# usage: scripts/bench/audit_logs.sh [sqlite|postgres|both]
set -euo pipefail
cd "$(dirname "$0")/../.."
WHICH="${1:-both}"
DURATION="${DURATION:-15s}"
CONNS="${CONNS:-32}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bizosaas/target}"
export BIZOSAAS_SERVICES_DIR="${BIZOSAAS_SERVICES_DIR:-/var/tmp/bizosaas-services}"
# PIN=1 gives wrk one core and the server (and its database) the other, so
# the load generator does not preempt the server it measures.
if [ "${PIN:-0}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  WRK_PIN="taskset -c 1"; SERVER_PIN="taskset -c 0"
else
  WRK_PIN=""; SERVER_PIN=""
fi
command -v wrk >/dev/null || { apt-get update -qq >/dev/null; apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p bizosaas
BIN="$CARGO_TARGET_DIR/release/bizosaas"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

wait_ready() { # prints milliseconds from $2 (ns) until /readyz answers 200
  local url=$1 start=$2
  until curl -sf -o /dev/null "$url/readyz"; do sleep 0.005; done
  echo $(( ($(date +%s%N) - start) / 1000000 ))
}

seed() { # 10,000 real audit entries, by creating read-only API tokens through the API
  python3 - "$1" "$2" <<'PY'
import http.client, json, sys
host, token = sys.argv[1], sys.argv[2]
c = http.client.HTTPConnection(host)
for i in range(10000):
    c.request("POST", "/api/v1/tokens", json.dumps({"name": f"bench {i}", "scopes": ["read"]}),
              {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 201, r.status
PY
}

wrk_run() { # label url [token]
  local hdr=()
  [ -n "${3:-}" ] && hdr=(-H "Authorization: Bearer $3")
  $WRK_PIN wrk -t2 -c"$CONNS" -d"$DURATION" --latency "${hdr[@]}" "$2" >"$WORK/$1.txt"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$1.txt")
  p50=$(awk '$1=="50%" {print $2}' "$WORK/$1.txt")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/$1.txt")
  echo "$rps $p50 $p99"
}

bench() { # backend
  # The seed creates 10,000 tokens: the per-tenant cap is lifted for it.
  local backend=$1 data="$WORK/$1" port env=(BIZOS_AUTH_MAX_ACTIVE_TOKENS=20000 ${POOL:+BIZOS_DATABASE_MAX_CONNECTIONS=$POOL})
  mkdir -p "$data"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [ "$backend" = postgres ]; then
    bash scripts/services.sh >/dev/null 2>&1
    # shellcheck disable=SC1091
    source "$BIZOSAAS_SERVICES_DIR/env"
    # Leftover test and bench databases make autovacuum wake every few
    # hundred milliseconds to visit each of them, on the cores being measured.
    runuser -u postgres -- psql -X -q -h "$BIZOSAAS_SERVICES_DIR/pg/sock" -p "$BIZOSAAS_TEST_PG_PORT" -U postgres -d postgres -At \
      -c "SELECT format('DROP DATABASE %I WITH (FORCE);', datname) FROM pg_database WHERE datname LIKE 't\_%' OR datname LIKE 'bench\_%'" \
      | runuser -u postgres -- psql -X -q -h "$BIZOSAAS_SERVICES_DIR/pg/sock" -p "$BIZOSAAS_TEST_PG_PORT" -U postgres -d postgres >/dev/null
    local db="bench_$(date +%s)"
    runuser -u postgres -- psql -X -q -h "$BIZOSAAS_SERVICES_DIR/pg/sock" -p "$BIZOSAAS_TEST_PG_PORT" -U postgres -d postgres \
      -c "CREATE DATABASE $db OWNER bizosaas_owner" >/dev/null
    env=(DATABASE_URL="postgres://bizosaas_app:app@127.0.0.1:$BIZOSAAS_TEST_PG_PORT/$db"
         BIZOS_DATABASE_MIGRATION_URL="postgres://bizosaas_owner:owner@127.0.0.1:$BIZOSAAS_TEST_PG_PORT/$db"
         BIZOS_AUTH_MAX_ACTIVE_TOKENS=20000
         ${POOL:+BIZOS_DATABASE_MAX_CONNECTIONS=$POOL})
  fi
  local start; start=$(date +%s%N)
  env "${env[@]}" $SERVER_PIN "$BIN" --data-dir "$data" serve --listen "127.0.0.1:$port" >"$WORK/$backend.out" 2>"$WORK/$backend.log" &
  local pid=$!
  local ready_ms; ready_ms=$(wait_ready "http://127.0.0.1:$port" "$start")
  env "${env[@]}" "$BIN" --data-dir "$data" admin create-tenant --name Bench >/dev/null 2>&1
  local token; token=$(env "${env[@]}" "$BIN" --data-dir "$data" admin create-token --tenant bench 2>/dev/null)
  sleep 1
  local idle; idle=$(rss_kb $pid)
  seed "127.0.0.1:$port" "$token"
  if [ "$backend" = postgres ]; then
    # Measure the steady state, not autovacuum and a checkpoint catching up
    # with the 10,000 inserts of the seed on the same two cores.
    runuser -u postgres -- psql -X -q -h "$BIZOSAAS_SERVICES_DIR/pg/sock" -p "$BIZOSAAS_TEST_PG_PORT" -U postgres -d "$db" \
      -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
  fi
  local health audit peak=0
  health=$(wrk_run "$backend-healthz" "http://127.0.0.1:$port/healthz")
  ( while kill -0 $pid 2>/dev/null; do rss_kb $pid; sleep 0.5; done ) >"$WORK/$backend.rss" &
  local sampler=$!
  audit=$(wrk_run "$backend-audit" "http://127.0.0.1:$port/api/v1/audit-logs?limit=50" "$token")
  kill $sampler 2>/dev/null || true
  curl -s "http://127.0.0.1:$port/metrics" | grep '^cache_lookups_total' | sed "s/^/[$backend] /" >&2
  peak=$(sort -n "$WORK/$backend.rss" | tail -1)
  kill -TERM $pid; wait $pid || true
  read -r h_rps h_p50 h_p99 <<<"$health"
  read -r a_rps a_p50 a_p99 <<<"$audit"
  printf '| %s | %s | %s | %s | %s | %s | %s | %.0f%% | %d ms | %.1f MB | %.1f MB |\n' \
    "$backend" "$h_rps" "$h_p99" "$a_rps" "$a_p50" "$a_p99" "$(grep -c 'Non-2xx' "$WORK/$backend-audit.txt" || true)" \
    "$(python3 -c "print(100*$a_rps/$h_rps)")" "$ready_ms" "$(python3 -c "print($idle/1024)")" "$(python3 -c "print($peak/1024)")"
}

echo "| backend | /healthz req/s | /healthz p99 | audit-logs req/s | audit p50 | audit p99 | non-2xx lines | audit/healthz | ready after start | idle RSS | RSS under load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
case "$WHICH" in
  sqlite) bench sqlite ;;
  postgres) bench postgres ;;
  both) bench sqlite; bench postgres ;;
esac
