-- A per-API-token request rate for model calls (agents and the gateway),
-- set with the budget, and each token's requests per minute. The count
-- goes up with one conditional upsert, so concurrent requests cannot pass
-- the rate.
ALTER TABLE llm_budgets ADD COLUMN requests_per_minute bigint;

CREATE TABLE llm_token_minutes (
    tenant_id  uuid NOT NULL REFERENCES tenants(id),
    token_id   uuid NOT NULL,
    minute     text NOT NULL,
    requests   bigint NOT NULL,
    PRIMARY KEY (tenant_id, token_id, minute)
);

ALTER TABLE llm_token_minutes ENABLE ROW LEVEL SECURITY;
ALTER TABLE llm_token_minutes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON llm_token_minutes
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());
