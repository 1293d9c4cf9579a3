-- Tool calls waiting for a member's approval: an agent asked to run a tool
-- that changes something outside the platform. Kept here, so the wait
-- survives a restart; decided once (pending → approved or rejected).
CREATE TABLE tool_approvals (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants(id),
    conversation_id  uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    agent_id         uuid NOT NULL,
    tool_call_id     text NOT NULL,
    tool             text NOT NULL,
    arguments        jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at       timestamptz NOT NULL,
    decided_at       timestamptz
);
CREATE INDEX tool_approvals_conversation ON tool_approvals (tenant_id, conversation_id, status);

ALTER TABLE tool_approvals ENABLE ROW LEVEL SECURITY;
ALTER TABLE tool_approvals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tool_approvals
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());
