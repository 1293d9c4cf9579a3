-- Conversations with agents and their messages; see the PostgreSQL
-- migration of the same number.
CREATE TABLE conversations (
    id          BLOB PRIMARY KEY NOT NULL,
    tenant_id   BLOB NOT NULL REFERENCES tenants(id),
    agent_id    BLOB NOT NULL,
    user_id     BLOB REFERENCES users(id),
    token_id    BLOB,
    title       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX conversations_owner ON conversations (tenant_id, user_id, token_id, id DESC);

CREATE TABLE chat_messages (
    id               BLOB PRIMARY KEY NOT NULL,
    tenant_id        BLOB NOT NULL REFERENCES tenants(id),
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role             TEXT NOT NULL,
    content          TEXT NOT NULL,
    tool_calls       TEXT NOT NULL DEFAULT '[]',
    tool_call_id     TEXT,
    model            TEXT,
    input_tokens     INTEGER NOT NULL DEFAULT 0,
    output_tokens    INTEGER NOT NULL DEFAULT 0,
    latency_ms       INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL
);
CREATE INDEX chat_messages_conversation ON chat_messages (tenant_id, conversation_id, id);
