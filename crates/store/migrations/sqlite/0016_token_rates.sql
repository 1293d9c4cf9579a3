-- A per-API-token request rate for model calls; see the PostgreSQL
-- migration of the same number.
ALTER TABLE llm_budgets ADD COLUMN requests_per_minute INTEGER;

CREATE TABLE llm_token_minutes (
    tenant_id  BLOB NOT NULL REFERENCES tenants(id),
    token_id   BLOB NOT NULL,
    minute     TEXT NOT NULL,
    requests   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, token_id, minute)
);
