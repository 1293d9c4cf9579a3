-- Signals: messages for a live run, taken in arrival order by the run's
-- `ctx.signal(name)` steps (DESIGN §10).
ALTER TABLE workflow_steps DROP CONSTRAINT workflow_steps_kind_check;
ALTER TABLE workflow_steps ADD CONSTRAINT workflow_steps_kind_check
    CHECK (kind IN ('activity', 'timer', 'child', 'signal'));

CREATE TABLE workflow_signals (
    id            uuid PRIMARY KEY,
    run_id        uuid NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    tenant_id     uuid REFERENCES tenants(id),
    name          text NOT NULL,
    payload       text NOT NULL,
    received_at   timestamptz NOT NULL,
    -- The step that took it; NULL while it waits.
    consumed_seq  integer,
    consumed_at   timestamptz
);
CREATE INDEX workflow_signals_waiting ON workflow_signals (run_id, name, received_at)
    WHERE consumed_seq IS NULL;

ALTER TABLE workflow_signals ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflow_signals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workflow_signals
    USING (tenant_id = bizosaas_current_tenant()) WITH CHECK (tenant_id = bizosaas_current_tenant());
CREATE POLICY runner ON workflow_signals
    USING (current_setting('app.worker', true) = 'runner')
    WITH CHECK (current_setting('app.worker', true) = 'runner');
