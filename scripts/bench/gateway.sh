#!/usr/bin/env bash
# Benchmark of the OpenAI-compatible gateway (the AI-brain issue), all in one
# run against the same upstream: an OpenAI-compatible simulator that
# answers at once (crates/testkit/examples/bench_llm_sim.rs). Measured:
#   direct        the simulator itself
#   hyper proxy   a bare hyper reverse proxy in front of it (the floor of
#                 any gateway: crates/testkit/examples/bench_hyper_proxy.rs)
#   bizosaas      `bizosaas serve` (release, SQLite), /v1/chat/completions
#                 with a gateway token, routed to the tenant's OpenAI key
#   litellm       LiteLLM's proxy 1.106.12, one worker per core, offline
#                 (LITELLM_LOCAL_MODEL_COST_MAP=True), with a master key
# Overhead is a gateway's latency minus the direct latency at the same
# percentile. wrk drives POSTs of a small chat request: 1 connection
# (sequential), 16 and 32 connections, DURATION each; time to the first
# streamed chunk is timed by bench_ttft (N sequential requests). RSS of
# bizosaas with 100 streams held open is sampled at the end.
# Bounded: every load lasts DURATION seconds against 127.0.0.1 only.
#
# usage: scripts/bench/gateway.sh        (SKIP_LITELLM=1 leaves LiteLLM out)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-10s}"
N="${N:-2000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bizosaas/target}"
export BIZOSAAS_SERVICES_DIR="${BIZOSAAS_SERVICES_DIR:-/var/tmp/bizosaas-services}"
command -v wrk >/dev/null || { apt-get update -qq >/dev/null; apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p bizosaas
cargo build --release -q -p testkit --example bench_llm_sim --example bench_hyper_proxy --example bench_ttft
R="$CARGO_TARGET_DIR/release"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; pkill -f "litellm --config $WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

SIM=$(free_port); PROXY=$(free_port); BZS=$(free_port); LLM=$(free_port)
"$R/examples/bench_llm_sim" "$SIM" & wait_port "$SIM"
"$R/examples/bench_hyper_proxy" "$PROXY" "127.0.0.1:$SIM" & wait_port "$PROXY"

# bizosaas: a tenant, its OpenAI key (checked against the simulator), a
# gateway token.
env BIZOS_AI_OPENAI_BASE_URL="http://127.0.0.1:$SIM/v1" RUST_LOG=warn \
  "$R/bizosaas" --data-dir "$WORK/data" serve --listen "127.0.0.1:$BZS" >"$WORK/bzs.out" 2>"$WORK/bzs.log" &
BZS_PID=$!
until curl -sf -o /dev/null "http://127.0.0.1:$BZS/readyz"; do sleep 0.05; done
"$R/bizosaas" --data-dir "$WORK/data" admin create-tenant --name Bench >/dev/null 2>&1
ADMIN=$("$R/bizosaas" --data-dir "$WORK/data" admin create-token --tenant bench 2>/dev/null)
curl -sf -o /dev/null -X POST "http://127.0.0.1:$BZS/api/v1/vault/keys/openai" -H "Authorization: Bearer $ADMIN" \
  -H 'content-type: application/json' -d '{"api_key":"sk-proj-bench-000000000000000000"}'
GATEWAY=$(curl -sf -X POST "http://127.0.0.1:$BZS/api/v1/tokens" -H "Authorization: Bearer $ADMIN" \
  -H 'content-type: application/json' -d '{"name":"bench gateway","scopes":["gateway"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')

if [ "${SKIP_LITELLM:-0}" != 1 ]; then
  LV="$BIZOSAAS_SERVICES_DIR/litellm-venv"
  if [ ! -x "$LV/bin/litellm" ]; then
    python3 -m venv "$LV"
    "$LV/bin/pip" install --disable-pip-version-check -q 'litellm[proxy]==1.106.12'
  fi
  cat >"$WORK/litellm.yaml" <<EOF
model_list:
  - model_name: openai/gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:$SIM/v1
      api_key: sk-proj-bench-000000000000000000
general_settings:
  master_key: sk-litellm-bench-master
litellm_settings:
  telemetry: false
EOF
  (cd "$WORK" && LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR \
    "$LV/bin/litellm" --config "$WORK/litellm.yaml" --host 127.0.0.1 --port "$LLM" --num_workers "$(nproc)" \
    --telemetry False >"$WORK/litellm.log" 2>&1 &)
  wait_port "$LLM"
fi

BODY='{"model":"MODEL","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"What is the answer?"}],"max_tokens":16}'
lua() { # model → a wrk script posting the body
  cat >"$WORK/$2.lua" <<EOF
wrk.method = "POST"
wrk.body = '${BODY/MODEL/$1}'
wrk.headers["Content-Type"] = "application/json"
EOF
}
lua gpt-4o-mini plain
lua openai/gpt-4o-mini routed

us() { # wrk latency (e.g. 83.00us, 1.20ms) in µs
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /ms$/) n *= 1000; else if (v ~ /[0-9]s$/) n *= 1000000; printf "%.0f", n }'
}
run() { # name url script conns [bearer] → "rps p50_us p99_us non2xx"
  local hdr=()
  [ -n "${5:-}" ] && hdr=(-H "Authorization: Bearer $5")
  local t=2; [ "$4" = 1 ] && t=1
  wrk -t"$t" -c"$4" -d"$DURATION" --latency -s "$WORK/$3.lua" "${hdr[@]}" "$2" >"$WORK/$1-$4.txt"
  echo "$(awk '/Requests\/sec/ {print $2}' "$WORK/$1-$4.txt") $(us "$(awk '$1=="50%" {print $2}' "$WORK/$1-$4.txt")") $(us "$(awk '$1=="99%" {print $2}' "$WORK/$1-$4.txt")") $(awk '/Non-2xx/ {print $5}' "$WORK/$1-$4.txt")"
}

declare -A R1 R16 R32
targets=(direct proxy bizosaas)
[ "${SKIP_LITELLM:-0}" != 1 ] && targets+=(litellm)
for t in "${targets[@]}"; do
  case $t in
    direct) url="http://127.0.0.1:$SIM/v1/chat/completions"; s=plain; b="" ;;
    proxy) url="http://127.0.0.1:$PROXY/v1/chat/completions"; s=plain; b="" ;;
    bizosaas) url="http://127.0.0.1:$BZS/v1/chat/completions"; s=routed; b="$GATEWAY" ;;
    litellm) url="http://127.0.0.1:$LLM/v1/chat/completions"; s=routed; b="sk-litellm-bench-master" ;;
  esac
  run "$t" "$url" "$s" 1 "$b" >/dev/null   # warm-up
  R1[$t]=$(run "$t" "$url" "$s" 1 "$b")
  R16[$t]=$(run "$t" "$url" "$s" 16 "$b")
  R32[$t]=$(run "$t" "$url" "$s" 32 "$b")
done

echo "| target | seq req/s | seq p50 | seq p99 | 16 conns p50 | 16 conns p99 | 32 conns req/s | 32 conns p99 | non-2xx |"
echo "|---|---|---|---|---|---|---|---|---|"
for t in "${targets[@]}"; do
  read -r r1 a1 b1 e1 <<<"${R1[$t]}"; read -r r16 a16 b16 e16 <<<"${R16[$t]}"; read -r r32 a32 b32 e32 <<<"${R32[$t]}"
  echo "| $t | $r1 | ${a1} µs | ${b1} µs | ${a16} µs | ${b16} µs | $r32 | ${b32} µs | $((${e1:-0}+${e16:-0}+${e32:-0})) |"
done
echo
read -r _ d50 d99 _ <<<"${R1[direct]}"; read -r _ _ d16 _ <<<"${R16[direct]}"; read -r d32 _ _ _ <<<"${R32[direct]}"
echo "| target | added p50, sequential | added p99, sequential | added p99 at 16 | req/s at 32 vs hyper proxy |"
echo "|---|---|---|---|---|"
read -r p32 _ _ _ <<<"${R32[proxy]}"
for t in "${targets[@]}"; do
  [ "$t" = direct ] && continue
  read -r _ a b _ <<<"${R1[$t]}"; read -r _ _ c _ <<<"${R16[$t]}"; read -r r _ _ _ <<<"${R32[$t]}"
  echo "| $t | $((a - d50)) µs | $((b - d99)) µs | $((c - d16)) µs | $(python3 -c "print(f'{100*$r/$p32:.0f}%')") |"
done

echo
echo "Time to the first streamed chunk, $N sequential requests each:"
ttft=("$R/examples/bench_ttft" "$N" gpt-4o-mini "http://127.0.0.1:$SIM/v1/chat/completions" -)
"${ttft[@]}"
"$R/examples/bench_ttft" "$N" openai/gpt-4o-mini "http://127.0.0.1:$BZS/v1/chat/completions" "$GATEWAY"
[ "${SKIP_LITELLM:-0}" != 1 ] && "$R/examples/bench_ttft" "$((N / 4))" openai/gpt-4o-mini "http://127.0.0.1:$LLM/v1/chat/completions" sk-litellm-bench-master

# 100 streams held open at once through the gateway: the simulator holds
# each frame back 300 ms (about 3 s a stream); RSS is sampled meanwhile.
echo
echo "bizosaas RSS idle: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$BZS_PID/status)"
for _ in $(seq 1 100); do
  curl -sN -o /dev/null "http://127.0.0.1:$BZS/v1/chat/completions" -H "Authorization: Bearer $GATEWAY" \
    -H 'content-type: application/json' \
    -d '{"model":"openai/gpt-4o-mini","stream":true,"bench_pause_ms":300,"messages":[{"role":"user","content":"hi"}]}' &
done
peak=0
for _ in $(seq 1 20); do
  kb=$(awk '/VmRSS/ {print $2}' /proc/$BZS_PID/status); [ "$kb" -gt "$peak" ] && peak=$kb
  sleep 0.1
done
open=$(ss -Htn state established "( sport = :$BZS )" | wc -l)
echo "bizosaas RSS with 100 streams open: $(awk -v k="$peak" 'BEGIN {printf "%.1f MB", k/1024}') ($open connections open when sampled)"
wait_streams() { for _ in $(seq 1 100); do [ "$(ss -Htn state established "( sport = :$BZS )" | wc -l)" = 0 ] && return; sleep 0.1; done; }
wait_streams
calls=$(curl -s "http://127.0.0.1:$BZS/api/v1/usage?group_by=token" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["calls"])')
echo "bizosaas recorded $calls gateway calls (usage, off the hot path)"

# The local model (scripts/llm/local-model.sh), when it runs: time to the
# first token from llama-server alone, through the gateway (`local/…`) and
# through an agent's chat endpoint (first `delta` event), 20 requests each.
if [ -f "$BIZOSAAS_SERVICES_DIR/env.llm" ]; then
  # shellcheck disable=SC1091
  source "$BIZOSAAS_SERVICES_DIR/env.llm"
  kill -TERM $BZS_PID; wait $BZS_PID || true
  env BIZOS_AI_OPENAI_BASE_URL="http://127.0.0.1:$SIM/v1" BIZOS_AI_LOCAL_URL="$BIZOSAAS_TEST_LLM_URL" RUST_LOG=warn \
    "$R/bizosaas" --data-dir "$WORK/data" serve --listen "127.0.0.1:$BZS" >"$WORK/bzs.out" 2>"$WORK/bzs.log" &
  BZS_PID=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$BZS/readyz"; do sleep 0.05; done
  AGENT=$(curl -sf "http://127.0.0.1:$BZS/api/v1/agents" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
  curl -sf -o /dev/null -X PUT "http://127.0.0.1:$BZS/api/v1/agents/$AGENT/config" -H "Authorization: Bearer $ADMIN" \
    -H 'content-type: application/json' \
    -d "{\"system_prompt\":\"You are terse.\",\"instructions\":[],\"temperature\":0,\"max_tokens\":8,\"provider\":\"local\",\"model\":\"$BIZOSAAS_TEST_LLM_MODEL\",\"tools\":[]}"
  echo
  echo "Local model, time to the first token, 20 sequential requests each:"
  local_body="{\"model\":\"MODEL\",\"stream\":true,\"max_tokens\":8,\"temperature\":0,\"messages\":[{\"role\":\"system\",\"content\":\"You are terse.\"},{\"role\":\"user\",\"content\":\"What is the answer?\"}]}"
  BODY="${local_body/MODEL/$BIZOSAAS_TEST_LLM_MODEL}" NEEDLE='"content":"' "$R/examples/bench_ttft" 20 - "$BIZOSAAS_TEST_LLM_URL/chat/completions" -
  BODY="${local_body/MODEL/local/$BIZOSAAS_TEST_LLM_MODEL}" NEEDLE='"content":"' "$R/examples/bench_ttft" 20 - "http://127.0.0.1:$BZS/v1/chat/completions" "$GATEWAY"
  BODY='{"message":"What is the answer?"}' NEEDLE='event: delta' "$R/examples/bench_ttft" 20 - "http://127.0.0.1:$BZS/api/v1/agents/$AGENT/chat" "$ADMIN"
fi
