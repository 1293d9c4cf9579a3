-- A registration waits here until its email link is followed, so signing up
-- says nothing about which addresses already have an account. Global (no
-- tenant exists yet), like users.
CREATE TABLE pending_registrations (
    id             uuid PRIMARY KEY,
    token_hash     text NOT NULL UNIQUE,
    email          text NOT NULL,
    name           text NOT NULL,
    tenant_name    text NOT NULL,
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz
);
