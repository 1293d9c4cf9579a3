-- A registration waits here until its email link is followed, so signing up
-- says nothing about which addresses already have an account.
CREATE TABLE pending_registrations (
    id             BLOB PRIMARY KEY NOT NULL,
    token_hash     TEXT NOT NULL UNIQUE,
    email          TEXT NOT NULL,
    name           TEXT NOT NULL,
    tenant_name    TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    used_at        TEXT
);
