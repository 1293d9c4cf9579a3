-- Failed sign-ins are counted per account *and* client address (OWASP's
-- authentication guidance): whoever guesses wrong locks out only their own
-- address from that account, never its owner elsewhere. Global, like users.
-- users.failed_logins and users.locked_until are no longer used.
CREATE TABLE login_failures (
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ip_address    text NOT NULL,
    failures      integer NOT NULL,
    locked_until  timestamptz,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, ip_address)
);
