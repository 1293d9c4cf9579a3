-- Personal tokens act as the user who made them; tenant tokens belong to the tenant.
ALTER TABLE api_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'tenant' CHECK (kind IN ('tenant', 'personal'));
CREATE INDEX api_tokens_personal ON api_tokens (tenant_id, created_by, id) WHERE kind = 'personal';
