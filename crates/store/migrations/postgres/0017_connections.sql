-- Connections to connectors (connector_configs, the plan's table) gain what
-- a connection needs beyond the vault path: its non-secret settings (a site
-- URL, a user name), its state (connected, or needs reconnecting after the
-- provider refused its credentials), the last error and the interval of its
-- scheduled syncs. A tenant connects each connector once.
ALTER TABLE connector_configs ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';
ALTER TABLE connector_configs ADD COLUMN status varchar(20) NOT NULL DEFAULT 'connected';
ALTER TABLE connector_configs ADD COLUMN last_error text;
ALTER TABLE connector_configs ADD COLUMN sync_interval_minutes integer;
DROP INDEX connector_configs_tenant;
CREATE UNIQUE INDEX connector_configs_tenant ON connector_configs (tenant_id, connector_id);
CREATE UNIQUE INDEX connector_configs_tenant_id ON connector_configs (tenant_id, id);

-- The local copy of synced records: one row per provider record, upserted
-- by its external id, so a sync run twice duplicates nothing. `fields` are
-- the typed fields the tabs show, `raw` the provider's JSON; `updated_at`
-- is the provider's time where it has one (else when it was synced) and
-- orders listings; `seen_pass` is the full sync that last saw it, so the
-- records a full pass no longer sees become tombstones (`deleted`).
CREATE TABLE connector_records (
    tenant_id          uuid NOT NULL REFERENCES tenants(id),
    connection_id      uuid NOT NULL,
    resource           varchar(50) NOT NULL,
    external_id        varchar(255) NOT NULL,
    title              text NOT NULL,
    status             varchar(50),
    search             text NOT NULL,
    fields             jsonb NOT NULL,
    raw                jsonb NOT NULL,
    remote_updated_at  timestamptz,
    updated_at         timestamptz NOT NULL,
    synced_at          timestamptz NOT NULL,
    deleted            boolean NOT NULL DEFAULT false,
    seen_pass          uuid,
    PRIMARY KEY (tenant_id, connection_id, resource, external_id),
    -- The connection is the same tenant's: a key that reaches across
    -- tenants cannot be written.
    FOREIGN KEY (tenant_id, connection_id) REFERENCES connector_configs (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX connector_records_by_time
    ON connector_records (tenant_id, connection_id, resource, updated_at, external_id);
CREATE INDEX connector_records_by_title
    ON connector_records (tenant_id, connection_id, resource, title, external_id);

ALTER TABLE connector_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE connector_records FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON connector_records
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());
