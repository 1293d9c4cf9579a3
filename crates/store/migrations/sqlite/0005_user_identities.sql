-- Accounts at single sign-on providers linked to users (global, like users).
CREATE TABLE user_identities (
    provider    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users(id),
    email       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE UNIQUE INDEX user_identities_user_provider ON user_identities (user_id, provider);
