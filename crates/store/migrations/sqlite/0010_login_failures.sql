-- Failed sign-ins are counted per account *and* client address (OWASP's
-- authentication guidance): whoever guesses wrong locks out only their own
-- address from that account, never its owner elsewhere.
-- users.failed_logins and users.locked_until are no longer used.
CREATE TABLE login_failures (
    user_id       BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ip_address    TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    locked_until  TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (user_id, ip_address)
);
