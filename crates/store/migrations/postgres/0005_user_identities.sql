-- Accounts at single sign-on providers linked to users (global, like users:
-- looked up before any tenant is known, so not under tenant RLS).
CREATE TABLE user_identities (
    provider    text NOT NULL,
    subject     text NOT NULL,
    user_id     uuid NOT NULL REFERENCES users(id),
    email       text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE UNIQUE INDEX user_identities_user_provider ON user_identities (user_id, provider);
