-- Monthly model budgets; see the PostgreSQL migration of the same number.
CREATE TABLE llm_budgets (
    tenant_id            BLOB PRIMARY KEY NOT NULL REFERENCES tenants(id),
    monthly_tokens       INTEGER,
    monthly_cost_micros  INTEGER,
    updated_at           TEXT NOT NULL
);

CREATE TABLE llm_budget_months (
    tenant_id             BLOB NOT NULL REFERENCES tenants(id),
    month                 TEXT NOT NULL,
    tokens                INTEGER NOT NULL DEFAULT 0,
    cost_micros           INTEGER NOT NULL DEFAULT 0,
    reserved_tokens       INTEGER NOT NULL DEFAULT 0,
    reserved_cost_micros  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, month)
);
