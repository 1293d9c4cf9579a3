-- Foundation schema (PostgreSQL). Run by the owner role; the app runs as
-- `bizosaas_app`, which owns nothing and is subject to row-level security on
-- every tenant table (README, "PostgreSQL roles").

CREATE EXTENSION IF NOT EXISTS vector;

DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bizosaas_app') THEN
        CREATE ROLE bizosaas_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

-- The tenant of the current transaction, set by the app with
-- set_config('app.tenant_id', …, true). NULL when unset, so policies match nothing.
CREATE FUNCTION bizosaas_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    slug        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE users (
    id          uuid PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE memberships (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    user_id     uuid NOT NULL REFERENCES users(id),
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants(id),
    name          text NOT NULL,
    prefix        text NOT NULL,
    secret_hash   text NOT NULL UNIQUE,
    scopes        text NOT NULL,
    created_by    uuid,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, id);

CREATE TABLE audit_logs (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants(id),
    user_id        uuid,
    token_id       uuid,
    action         varchar(100) NOT NULL,
    resource_type  varchar(50) NOT NULL,
    resource_id    varchar(255),
    metadata       jsonb NOT NULL DEFAULT '{}',
    ip_address     text,
    user_agent     text,
    created_at     timestamptz NOT NULL
);
CREATE INDEX audit_logs_tenant_id ON audit_logs (tenant_id, id DESC);

CREATE TABLE idempotency_keys (
    tenant_id     uuid NOT NULL REFERENCES tenants(id),
    key           text NOT NULL,
    request_hash  text NOT NULL,
    status        integer NOT NULL,
    body          text NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE connector_configs (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants(id),
    connector_id  varchar(50) NOT NULL,
    vault_path    varchar(255) NOT NULL,
    is_active     boolean NOT NULL DEFAULT true,
    last_sync_at  timestamptz,
    sync_status   varchar(20),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX connector_configs_tenant ON connector_configs (tenant_id, connector_id);

CREATE TABLE agent_configs (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants(id),
    agent_id       varchar(50) NOT NULL,
    system_prompt  text,
    temperature    double precision NOT NULL DEFAULT 0.7,
    max_tokens     integer NOT NULL DEFAULT 2000,
    enabled_tools  jsonb NOT NULL DEFAULT '[]',
    llm_provider   varchar(50) NOT NULL DEFAULT 'openai',
    llm_model      varchar(100) NOT NULL DEFAULT 'gpt-4o-mini',
    is_active      boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    UNIQUE (tenant_id, agent_id)
);

CREATE TABLE knowledge_base (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    agent_id    varchar(50),
    content     text NOT NULL,
    embedding   vector(1536),
    metadata    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL
);
CREATE INDEX knowledge_base_tenant ON knowledge_base (tenant_id, agent_id);
CREATE INDEX knowledge_base_embedding ON knowledge_base USING hnsw (embedding vector_cosine_ops);

-- Row-level security: enabled and forced (so even the owner is subject to it)
-- on every table that holds tenant data.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['memberships', 'api_tokens', 'audit_logs', 'idempotency_keys',
                             'connector_configs', 'agent_configs', 'knowledge_base'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant())', t);
    END LOOP;
END $$;

-- The tenant registry: a tenant sees its own row; a row may also be found by
-- its slug when the caller names it (the admin CLI), never listed wholesale.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = bizosaas_current_tenant()) WITH CHECK (id = bizosaas_current_tenant());
CREATE POLICY lookup_by_slug ON tenants FOR SELECT
    USING (slug = NULLIF(current_setting('app.tenant_slug', true), ''));

-- Authentication finds a token by the hash of what the caller presented,
-- before the tenant is known: a keyed lookup of exactly one row.
CREATE POLICY lookup_by_hash ON api_tokens FOR SELECT
    USING (secret_hash = NULLIF(current_setting('app.token_hash', true), ''));

-- Privileges of the runtime role. The audit log is append-only for the app.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO bizosaas_app;
REVOKE UPDATE, DELETE ON audit_logs FROM bizosaas_app;
REVOKE INSERT, UPDATE, DELETE ON _sqlx_migrations FROM bizosaas_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO bizosaas_app;
