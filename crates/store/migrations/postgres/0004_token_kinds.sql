-- Personal tokens act as the user who made them; tenant tokens belong to the tenant.
ALTER TABLE api_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'tenant' CHECK (kind IN ('tenant', 'personal'));
-- A personal token always names its user.
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_personal_has_user CHECK (kind = 'tenant' OR created_by IS NOT NULL);
CREATE INDEX api_tokens_personal ON api_tokens (tenant_id, created_by, id) WHERE kind = 'personal';
