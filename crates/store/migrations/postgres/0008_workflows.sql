-- Durable workflows of the embedded runner (DESIGN §10). A run belongs to a
-- tenant, or to nobody (tenant_id NULL) when it maintains the platform.
CREATE TABLE workflow_runs (
    id                uuid PRIMARY KEY,
    tenant_id         uuid REFERENCES tenants(id),
    workflow_type     text NOT NULL,
    dedup_key         text NOT NULL,
    input             text NOT NULL,
    status            text NOT NULL CHECK (status IN ('queued', 'running', 'retrying', 'sleeping', 'succeeded', 'failed', 'cancelled')),
    output            text,
    last_error        text,
    attempts          integer NOT NULL DEFAULT 0,
    progress_done     bigint,
    progress_total    bigint,
    progress_note     text,
    parent_id         uuid,
    schedule_id       uuid,
    cancel_requested  boolean NOT NULL DEFAULT false,
    next_run_at       timestamptz NOT NULL,
    lease_owner       text,
    lease_until       timestamptz,
    created_at        timestamptz NOT NULL,
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL
);
-- The workflow id: starting twice with one key yields one run, and a
-- schedule's firing (keyed by its time) cannot happen twice.
CREATE UNIQUE INDEX workflow_runs_dedup
    ON workflow_runs (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), dedup_key);
CREATE INDEX workflow_runs_due ON workflow_runs (next_run_at)
    WHERE status IN ('queued', 'running', 'retrying', 'sleeping');
CREATE INDEX workflow_runs_tenant ON workflow_runs (tenant_id, id DESC);
CREATE INDEX workflow_runs_lease ON workflow_runs (lease_owner) WHERE lease_owner IS NOT NULL;

-- The journal a run replays: each activity, timer and child workflow it
-- reached, in order, with the result once there is one.
CREATE TABLE workflow_steps (
    run_id       uuid NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    tenant_id    uuid REFERENCES tenants(id),
    seq          integer NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('activity', 'timer', 'child')),
    name         text NOT NULL,
    status       text NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    retry_base   integer NOT NULL DEFAULT 0,
    output       text,
    last_error   text,
    wake_at      timestamptz,
    child_id     uuid,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE workflow_attempts (
    run_id       uuid NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    tenant_id    uuid REFERENCES tenants(id),
    seq          integer NOT NULL,
    attempt      integer NOT NULL,
    worker       text NOT NULL,
    outcome      text NOT NULL,
    error        text,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    PRIMARY KEY (run_id, seq, attempt)
);

CREATE TABLE workflow_schedules (
    id             uuid PRIMARY KEY,
    tenant_id      uuid REFERENCES tenants(id),
    name           text NOT NULL,
    workflow_type  text NOT NULL,
    input          text NOT NULL,
    every_secs     bigint,
    cron           text,
    next_fire_at   timestamptz NOT NULL,
    last_fired_at  timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CHECK ((every_secs IS NULL) <> (cron IS NULL))
);
CREATE UNIQUE INDEX workflow_schedules_name
    ON workflow_schedules (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), name);

-- Tenants see and steer their own runs. The runner claims, journals and
-- finishes runs of every tenant, so it works under a declared setting
-- (`app.worker`) that only the runner's own statements set; activities then
-- touch tenant data under that tenant's own `app.tenant_id`.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['workflow_runs', 'workflow_steps', 'workflow_attempts', 'workflow_schedules'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant())', t);
        EXECUTE format('CREATE POLICY runner ON %I USING (current_setting(''app.worker'', true) = ''runner'') WITH CHECK (current_setting(''app.worker'', true) = ''runner'')', t);
    END LOOP;
END $$;
