-- Durable workflows of the embedded runner (DESIGN §10). A run belongs to a
-- tenant, or to nobody (tenant_id NULL) when it maintains the platform.
CREATE TABLE workflow_runs (
    id                BLOB PRIMARY KEY NOT NULL,
    tenant_id         BLOB REFERENCES tenants(id),
    workflow_type     TEXT NOT NULL,
    dedup_key         TEXT NOT NULL,
    input             TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'running', 'retrying', 'sleeping', 'succeeded', 'failed', 'cancelled')),
    output            TEXT,
    last_error        TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    progress_done     INTEGER,
    progress_total    INTEGER,
    progress_note     TEXT,
    parent_id         BLOB,
    schedule_id       BLOB,
    cancel_requested  BOOLEAN NOT NULL DEFAULT false,
    next_run_at       TEXT NOT NULL,
    lease_owner       TEXT,
    lease_until       TEXT,
    created_at        TEXT NOT NULL,
    started_at        TEXT,
    finished_at       TEXT,
    updated_at        TEXT NOT NULL
);
-- The workflow id: starting twice with one key yields one run, and a
-- schedule's firing (keyed by its time) cannot happen twice.
CREATE UNIQUE INDEX workflow_runs_dedup
    ON workflow_runs (COALESCE(tenant_id, x''), dedup_key);
CREATE INDEX workflow_runs_due ON workflow_runs (next_run_at)
    WHERE status IN ('queued', 'running', 'retrying', 'sleeping');
CREATE INDEX workflow_runs_tenant ON workflow_runs (tenant_id, id DESC);
CREATE INDEX workflow_runs_lease ON workflow_runs (lease_owner) WHERE lease_owner IS NOT NULL;

-- The journal a run replays: each activity, timer and child workflow it
-- reached, in order, with the result once there is one.
CREATE TABLE workflow_steps (
    run_id       BLOB NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    tenant_id    BLOB REFERENCES tenants(id),
    seq          INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('activity', 'timer', 'child')),
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

CREATE TABLE workflow_attempts (
    run_id       BLOB NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    tenant_id    BLOB REFERENCES tenants(id),
    seq          INTEGER NOT NULL,
    attempt      INTEGER NOT NULL,
    worker       TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    error        TEXT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    PRIMARY KEY (run_id, seq, attempt)
);

CREATE TABLE workflow_schedules (
    id             BLOB PRIMARY KEY NOT NULL,
    tenant_id      BLOB REFERENCES tenants(id),
    name           TEXT NOT NULL,
    workflow_type  TEXT NOT NULL,
    input          TEXT NOT NULL,
    every_secs     INTEGER,
    cron           TEXT,
    next_fire_at   TEXT NOT NULL,
    last_fired_at  TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CHECK ((every_secs IS NULL) <> (cron IS NULL))
);
CREATE UNIQUE INDEX workflow_schedules_name
    ON workflow_schedules (COALESCE(tenant_id, x''), name);

