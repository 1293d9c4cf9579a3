-- Foundation schema (SQLite). Ids are UUIDv7 stored as 16-byte BLOBs; times
-- are RFC 3339 text in UTC. Every tenant-owned table has tenant_id NOT NULL and
-- every repository query filters by it (SQLite has no row-level security).

CREATE TABLE tenants (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE users (
    id          BLOB PRIMARY KEY NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE memberships (
    tenant_id   BLOB NOT NULL REFERENCES tenants(id),
    user_id     BLOB NOT NULL REFERENCES users(id),
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE api_tokens (
    id            BLOB PRIMARY KEY NOT NULL,
    tenant_id     BLOB NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    secret_hash   TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_by    BLOB,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, id);

CREATE TABLE audit_logs (
    id             BLOB PRIMARY KEY NOT NULL,
    tenant_id      BLOB NOT NULL REFERENCES tenants(id),
    user_id        BLOB,
    token_id       BLOB,
    action         TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT,
    metadata       TEXT NOT NULL DEFAULT '{}',
    ip_address     TEXT,
    user_agent     TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX audit_logs_tenant_id ON audit_logs (tenant_id, id DESC);
-- The app only ever appends.
CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs
BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only'); END;
CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs
BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only'); END;

CREATE TABLE idempotency_keys (
    tenant_id     BLOB NOT NULL REFERENCES tenants(id),
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER NOT NULL,
    body          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

-- The plan's tables (§1.3). Filled by the connector, agent and knowledge issues.
CREATE TABLE connector_configs (
    id            BLOB PRIMARY KEY NOT NULL,
    tenant_id     BLOB NOT NULL REFERENCES tenants(id),
    connector_id  TEXT NOT NULL,
    vault_path    TEXT NOT NULL,
    is_active     INTEGER NOT NULL DEFAULT 1,
    last_sync_at  TEXT,
    sync_status   TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX connector_configs_tenant ON connector_configs (tenant_id, connector_id);

CREATE TABLE agent_configs (
    id             BLOB PRIMARY KEY NOT NULL,
    tenant_id      BLOB NOT NULL REFERENCES tenants(id),
    agent_id       TEXT NOT NULL,
    system_prompt  TEXT,
    temperature    REAL NOT NULL DEFAULT 0.7,
    max_tokens     INTEGER NOT NULL DEFAULT 2000,
    enabled_tools  TEXT NOT NULL DEFAULT '[]',
    llm_provider   TEXT NOT NULL DEFAULT 'openai',
    llm_model      TEXT NOT NULL DEFAULT 'gpt-4o-mini',
    is_active      INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (tenant_id, agent_id)
);

CREATE TABLE knowledge_base (
    id          BLOB PRIMARY KEY NOT NULL,
    tenant_id   BLOB NOT NULL REFERENCES tenants(id),
    agent_id    TEXT,
    content     TEXT NOT NULL,
    embedding   BLOB,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);
CREATE INDEX knowledge_base_tenant ON knowledge_base (tenant_id, agent_id);
