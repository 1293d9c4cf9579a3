-- AI agents (the plan's §2.2): a tenant's agents, each with its
-- configuration as one JSON document (prompt, fine-tuning instructions,
-- sampling, provider and model, tools, permissions, knowledge bases), so a
-- new setting needs no migration. `template` names the catalogue entry it
-- came from. The seven core agents are seeded once per tenant: a row in
-- agent_seedings says so, and a core agent the tenant deletes stays gone.
CREATE TABLE agents (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    name         text NOT NULL,
    template     text,
    description  text NOT NULL,
    config       jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX agents_tenant ON agents (tenant_id, id DESC);

CREATE TABLE agent_seedings (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants(id),
    seeded_at  timestamptz NOT NULL
);

ALTER TABLE agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE agents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON agents
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());
ALTER TABLE agent_seedings ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_seedings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON agent_seedings
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());
