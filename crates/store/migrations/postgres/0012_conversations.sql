-- Conversations with agents, per tenant and member (or API token), and
-- their messages: the member's, the agent's (with the tools it called,
-- the model, tokens and latency of the call), and the tools' results.
CREATE TABLE conversations (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    agent_id    uuid NOT NULL,
    user_id     uuid REFERENCES users(id),
    token_id    uuid,
    title       text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX conversations_owner ON conversations (tenant_id, user_id, token_id, id DESC);

CREATE TABLE chat_messages (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants(id),
    conversation_id  uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role             text NOT NULL,
    content          text NOT NULL,
    tool_calls       jsonb NOT NULL DEFAULT '[]',
    tool_call_id     text,
    model            text,
    input_tokens     bigint NOT NULL DEFAULT 0,
    output_tokens    bigint NOT NULL DEFAULT 0,
    latency_ms       bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL
);
CREATE INDEX chat_messages_conversation ON chat_messages (tenant_id, conversation_id, id);

ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON conversations
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());
ALTER TABLE chat_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON chat_messages
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());
