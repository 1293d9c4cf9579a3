#!/usr/bin/env bash
# The whole test suite from a fresh machine: installs and starts the real
# services the tests need (scripts/services.sh), then checks formatting and
# lints and runs every test on SQLite and PostgreSQL. Run again, it reuses
# what is installed and the cargo cache outside the clone.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bizosaas/target}"
export BIZOSAAS_SERVICES_DIR="${BIZOSAAS_SERVICES_DIR:-/var/tmp/bizosaas-services}"

# The cargo cache outside the clone grows with every build; when the disk
# runs low, incremental state (the largest and most rebuildable part) goes.
if [ "$(df --output=avail -k "$(dirname "$CARGO_TARGET_DIR")" 2>/dev/null | tail -1)" -lt 8000000 ] 2>/dev/null; then
  echo "== low disk: removing $CARGO_TARGET_DIR/debug/incremental"
  rm -rf "$CARGO_TARGET_DIR/debug/incremental"
fi

bash scripts/services.sh
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
echo "== tests (SQLite and PostgreSQL)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
