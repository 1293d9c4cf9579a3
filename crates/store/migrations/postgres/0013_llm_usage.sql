-- Every model call: who made it (member or API token, and through which
-- agent), on what, how many tokens, what it cost (micro-dollars, from the
-- shipped price table) and how long it took. The usage report and, later,
-- budgets read it.
CREATE TABLE llm_usage (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants(id),
    agent_id       uuid,
    user_id        uuid,
    token_id       uuid,
    provider       text NOT NULL,
    model          text NOT NULL,
    input_tokens   bigint NOT NULL,
    output_tokens  bigint NOT NULL,
    cost_micros    bigint NOT NULL,
    latency_ms     bigint NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX llm_usage_tenant_time ON llm_usage (tenant_id, created_at);

ALTER TABLE llm_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE llm_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON llm_usage
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());
