-- Secrets: the database keeps references and non-secret facts only
-- (DESIGN §6). With the local sealed store it also keeps ciphertext, each
-- value under its own data key, wrapped by a master key that is not here.
CREATE TABLE api_key_refs (
    id                BLOB PRIMARY KEY NOT NULL,
    tenant_id         BLOB NOT NULL REFERENCES tenants(id),
    service           TEXT NOT NULL,
    vault_path        TEXT NOT NULL,
    base_url          TEXT,
    key_hint          TEXT NOT NULL,
    added_by_user     BLOB REFERENCES users(id),
    added_by_token    BLOB,
    created_at        TEXT NOT NULL,
    last_tested_at    TEXT,
    last_test_ok      BOOLEAN,
    last_test_detail  TEXT,
    UNIQUE (tenant_id, service)
);

CREATE TABLE sealed_secrets (
    tenant_id    BLOB NOT NULL REFERENCES tenants(id),
    path         TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    wrapped_key  BLOB NOT NULL,
    ciphertext   BLOB NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, path)
);
CREATE INDEX sealed_secrets_key ON sealed_secrets (key_id);
