-- Secrets: the database keeps references and non-secret facts only
-- (DESIGN §6). With the local sealed store it also keeps ciphertext, each
-- value under its own data key, wrapped by a master key that is not here.
CREATE TABLE api_key_refs (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants(id),
    service           text NOT NULL,
    vault_path        text NOT NULL,
    base_url          text,
    key_hint          text NOT NULL,
    added_by_user     uuid REFERENCES users(id),
    added_by_token    uuid,
    created_at        timestamptz NOT NULL,
    last_tested_at    timestamptz,
    last_test_ok      boolean,
    last_test_detail  text,
    UNIQUE (tenant_id, service)
);

CREATE TABLE sealed_secrets (
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    path         text NOT NULL,
    key_id       text NOT NULL,
    wrapped_key  bytea NOT NULL,
    ciphertext   bytea NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, path)
);
CREATE INDEX sealed_secrets_key ON sealed_secrets (key_id);

ALTER TABLE api_key_refs ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_key_refs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_key_refs
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());
ALTER TABLE sealed_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE sealed_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sealed_secrets
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());

-- Re-wrapping every data key under a new master key visits tenant after
-- tenant; it finds their ids here (ids only are useful: every tenant's rows
-- are still read under that tenant's own setting).
CREATE POLICY maintenance_listing ON tenants FOR SELECT
    USING (current_setting('app.maintenance', true) = 'list_tenants');
