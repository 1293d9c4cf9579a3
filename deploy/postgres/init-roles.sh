#!/usr/bin/env bash
# The two roles of README "PostgreSQL roles", created once on an empty volume.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U postgres \
  -v owner_pw="$BIZOSAAS_OWNER_PASSWORD" -v app_pw="$BIZOSAAS_APP_PASSWORD" <<'SQL'
CREATE ROLE bizosaas_owner LOGIN PASSWORD :'owner_pw';
CREATE ROLE bizosaas_app LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD :'app_pw';
CREATE DATABASE bizosaas OWNER bizosaas_owner;
\c bizosaas
CREATE EXTENSION vector;
SQL
