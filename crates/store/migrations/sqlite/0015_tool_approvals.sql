-- Tool calls waiting for a member's approval; see the PostgreSQL migration
-- of the same number.
CREATE TABLE tool_approvals (
    id               BLOB PRIMARY KEY NOT NULL,
    tenant_id        BLOB NOT NULL REFERENCES tenants(id),
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    agent_id         BLOB NOT NULL,
    tool_call_id     TEXT NOT NULL,
    tool             TEXT NOT NULL,
    arguments        TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at       TEXT NOT NULL,
    decided_at       TEXT
);
CREATE INDEX tool_approvals_conversation ON tool_approvals (tenant_id, conversation_id, status);
