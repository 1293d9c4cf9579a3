-- Every model call; see the PostgreSQL migration of the same number.
CREATE TABLE llm_usage (
    id             BLOB PRIMARY KEY NOT NULL,
    tenant_id      BLOB NOT NULL REFERENCES tenants(id),
    agent_id       BLOB,
    user_id        BLOB,
    token_id       BLOB,
    provider       TEXT NOT NULL,
    model          TEXT NOT NULL,
    input_tokens   INTEGER NOT NULL,
    output_tokens  INTEGER NOT NULL,
    cost_micros    INTEGER NOT NULL,
    latency_ms     INTEGER NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE INDEX llm_usage_tenant_time ON llm_usage (tenant_id, created_at);
