-- Monthly model budgets per tenant (tokens, cost or both), and each
-- month's use. A call reserves its largest possible use before it starts,
-- with one conditional UPDATE (so concurrent calls cannot overspend), and
-- settles to what it really used when it ends.
CREATE TABLE llm_budgets (
    tenant_id            uuid PRIMARY KEY REFERENCES tenants(id),
    monthly_tokens       bigint,
    monthly_cost_micros  bigint,
    updated_at           timestamptz NOT NULL
);

CREATE TABLE llm_budget_months (
    tenant_id             uuid NOT NULL REFERENCES tenants(id),
    month                 text NOT NULL,
    tokens                bigint NOT NULL DEFAULT 0,
    cost_micros           bigint NOT NULL DEFAULT 0,
    reserved_tokens       bigint NOT NULL DEFAULT 0,
    reserved_cost_micros  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, month)
);

ALTER TABLE llm_budgets ENABLE ROW LEVEL SECURITY;
ALTER TABLE llm_budgets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON llm_budgets
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());
ALTER TABLE llm_budget_months ENABLE ROW LEVEL SECURITY;
ALTER TABLE llm_budget_months FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON llm_budget_months
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());
