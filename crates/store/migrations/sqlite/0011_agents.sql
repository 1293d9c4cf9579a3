-- AI agents (the plan's §2.2); see the PostgreSQL migration of the same
-- number for the shape.
CREATE TABLE agents (
    id           BLOB PRIMARY KEY NOT NULL,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id),
    name         TEXT NOT NULL,
    template     TEXT,
    description  TEXT NOT NULL,
    config       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX agents_tenant ON agents (tenant_id, id DESC);

CREATE TABLE agent_seedings (
    tenant_id  BLOB PRIMARY KEY NOT NULL REFERENCES tenants(id),
    seeded_at  TEXT NOT NULL
);
