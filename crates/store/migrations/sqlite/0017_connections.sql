-- Connections and their synced records; see the PostgreSQL migration of
-- the same number.
ALTER TABLE connector_configs ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE connector_configs ADD COLUMN status TEXT NOT NULL DEFAULT 'connected';
ALTER TABLE connector_configs ADD COLUMN last_error TEXT;
ALTER TABLE connector_configs ADD COLUMN sync_interval_minutes INTEGER;
DROP INDEX connector_configs_tenant;
CREATE UNIQUE INDEX connector_configs_tenant ON connector_configs (tenant_id, connector_id);
CREATE UNIQUE INDEX connector_configs_tenant_id ON connector_configs (tenant_id, id);

CREATE TABLE connector_records (
    tenant_id          BLOB NOT NULL REFERENCES tenants(id),
    connection_id      BLOB NOT NULL,
    resource           TEXT NOT NULL,
    external_id        TEXT NOT NULL,
    title              TEXT NOT NULL,
    status             TEXT,
    search             TEXT NOT NULL,
    fields             TEXT NOT NULL,
    raw                TEXT NOT NULL,
    remote_updated_at  TEXT,
    updated_at         TEXT NOT NULL,
    synced_at          TEXT NOT NULL,
    deleted            INTEGER NOT NULL DEFAULT 0,
    seen_pass          BLOB,
    PRIMARY KEY (tenant_id, connection_id, resource, external_id),
    -- The connection is the same tenant's: a key that reaches across
    -- tenants cannot be written.
    FOREIGN KEY (tenant_id, connection_id) REFERENCES connector_configs (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX connector_records_by_time
    ON connector_records (tenant_id, connection_id, resource, updated_at, external_id);
CREATE INDEX connector_records_by_title
    ON connector_records (tenant_id, connection_id, resource, title, external_id);
