-- Signals: messages for a live run, taken in arrival order by the run's
-- `ctx.signal(name)` steps (DESIGN §10). SQLite cannot change a CHECK, so
-- the journal is rebuilt to admit the new step kind.
CREATE TABLE workflow_steps_new (
    run_id       BLOB NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    tenant_id    BLOB REFERENCES tenants(id),
    seq          INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('activity', 'timer', 'child', 'signal')),
    name         TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    retry_base   INTEGER NOT NULL DEFAULT 0,
    output       TEXT,
    last_error   TEXT,
    wake_at      TEXT,
    child_id     BLOB,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    PRIMARY KEY (run_id, seq)
);
INSERT INTO workflow_steps_new SELECT run_id, tenant_id, seq, kind, name, status, attempts,
    retry_base, output, last_error, wake_at, child_id, started_at, finished_at FROM workflow_steps;
DROP TABLE workflow_steps;
ALTER TABLE workflow_steps_new RENAME TO workflow_steps;

CREATE TABLE workflow_signals (
    id            BLOB PRIMARY KEY NOT NULL,
    run_id        BLOB NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    tenant_id     BLOB REFERENCES tenants(id),
    name          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    -- The step that took it; NULL while it waits.
    consumed_seq  INTEGER,
    consumed_at   TEXT
);
CREATE INDEX workflow_signals_waiting ON workflow_signals (run_id, name, received_at)
    WHERE consumed_seq IS NULL;
