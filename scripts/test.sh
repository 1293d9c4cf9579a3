#!/usr/bin/env bash
# The whole test suite from a fresh machine: installs and starts the real
# services the tests need (scripts/services.sh), then checks formatting and
# lints and runs every test on SQLite and PostgreSQL. Run again, it reuses
# what is installed and the cargo cache outside the clone.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bizosaas/target}"
export BIZOSAAS_SERVICES_DIR="${BIZOSAAS_SERVICES_DIR:-/var/tmp/bizosaas-services}"

# The cargo cache outside the clone grows with every build (a full test
# build needs about 15 GB); when the disk runs low, incremental state and
# build outputs no build has touched for two days go: they rebuild.
if [ "$(df --output=avail -k "$(dirname "$CARGO_TARGET_DIR")" 2>/dev/null | tail -1)" -lt 20000000 ] 2>/dev/null; then
  echo "== low disk: removing incremental state and stale outputs under $CARGO_TARGET_DIR"
  rm -rf "$CARGO_TARGET_DIR"/{debug,release}/incremental
  find "$CARGO_TARGET_DIR"/{debug,release}/deps -maxdepth 1 -type f -mtime +2 -delete 2>/dev/null || true
fi

bash scripts/services.sh
# The local model's server builds (once, about 14 minutes) while cargo
# builds; it starts once compilation is over, since generating on cores a
# compiler is using is about ten times slower.
bash scripts/llm/local-model.sh install >"$BIZOSAAS_SERVICES_DIR/llm-install.log" 2>&1 &
llm_install=$!
# shellcheck disable=SC1091
source "$BIZOSAAS_SERVICES_DIR/env"

# Databases left by earlier runs (one per test) are dropped first.
runuser -u postgres -- psql -X -q -h "$BIZOSAAS_SERVICES_DIR/pg/sock" -p "$BIZOSAAS_TEST_PG_PORT" -U postgres -d postgres -At \
  -c "SELECT format('DROP DATABASE %I WITH (FORCE);', datname) FROM pg_database WHERE datname LIKE 't\_%'" \
  | runuser -u postgres -- psql -X -q -h "$BIZOSAAS_SERVICES_DIR/pg/sock" -p "$BIZOSAAS_TEST_PG_PORT" -U postgres -d postgres >/dev/null

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== building the tests"
if cargo nextest --version >/dev/null 2>&1; then
  run_tests=(cargo nextest run --workspace)
else
  run_tests=(cargo test --workspace)
fi
"${run_tests[@]}" --no-run
echo "== the local model"
if ! wait "$llm_install"; then
  cat "$BIZOSAAS_SERVICES_DIR/llm-install.log" >&2
  exit 1
fi
bash scripts/llm/local-model.sh start
cat "$BIZOSAAS_SERVICES_DIR"/env.* >"$BIZOSAAS_SERVICES_DIR/env"
# shellcheck disable=SC1091
source "$BIZOSAAS_SERVICES_DIR/env"
echo "== tests (SQLite and PostgreSQL)"
"${run_tests[@]}" --no-fail-fast
# nextest runs no doctests; the store's say which transactions its
# functions refuse, and are compile-fail tests.
echo "== doctests (store)"
cargo test -p store --doc --quiet
