//! Workflow runs, their journal and schedules: the embedded runner's state.
//!
//! Tenants read and steer their own runs through a [`TenantTx`]. The runner
//! works across tenants through a [`RunnerTx`], which on PostgreSQL declares
//! `app.worker = 'runner'`, the one setting the tables' `runner` policy
//! accepts; on SQLite it takes the write lock up front (`BEGIN IMMEDIATE`),
//! which is what makes a claim exclusive there.

use crate::connect::{Pool, Store};
use crate::tx::{set_local, with_conn, TenantTx, Tx, TxInner};
use crate::Result;
use chrono::{DateTime, Utc};
use domain::paging::Cursor;
use domain::workflows::{AttemptRecord, Progress, RunFilter, RunStatus, RunSummary, StepRecord};
use domain::{RunId, ScheduleId, Scoped, TenantId};
use std::collections::HashMap;
use uuid::Uuid;

const RUN_COLUMNS: &str = "id, tenant_id, workflow_type, dedup_key, input, status, output, last_error, attempts, \
     progress_done, progress_total, progress_note, parent_id, cancel_requested, next_run_at, created_at, \
     started_at, finished_at";

/// A run as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RunRow {
    /// Id.
    pub id: Uuid,
    /// Owning tenant; `None` for platform maintenance.
    pub tenant_id: Option<Uuid>,
    /// Workflow type.
    pub workflow_type: String,
    /// Workflow id given at start.
    pub dedup_key: String,
    /// JSON input.
    pub input: String,
    /// Status name.
    pub status: String,
    /// JSON output.
    pub output: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
    /// Activity attempts so far.
    pub attempts: i32,
    /// Progress: done.
    pub progress_done: Option<i64>,
    /// Progress: total.
    pub progress_total: Option<i64>,
    /// Progress: note.
    pub progress_note: Option<String>,
    /// The run that started this one as a child.
    pub parent_id: Option<Uuid>,
    /// Someone asked it to stop.
    pub cancel_requested: bool,
    /// When it may run next.
    pub next_run_at: DateTime<Utc>,
    /// Accepted.
    pub created_at: DateTime<Utc>,
    /// First picked up.
    pub started_at: Option<DateTime<Utc>>,
    /// Ended.
    pub finished_at: Option<DateTime<Utc>>,
}

impl RunRow {
    /// The stored status.
    pub fn status(&self) -> RunStatus {
        RunStatus::parse(&self.status).unwrap_or(RunStatus::Failed)
    }

    /// The run as listings show it.
    pub fn summary(&self) -> RunSummary {
        let status = self.status();
        RunSummary {
            id: RunId::from_uuid(self.id),
            workflow_type: self.workflow_type.clone(),
            workflow_key: self.dedup_key.clone(),
            status,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            attempts: self.attempts.max(0) as u32,
            progress: self.progress_done.map(|done| Progress {
                done: done.max(0) as u64,
                total: self.progress_total.map(|t| t.max(0) as u64),
                note: self.progress_note.clone(),
            }),
            last_error: self.last_error.clone(),
            next_run_at: matches!(status, RunStatus::Retrying | RunStatus::Sleeping)
                .then_some(self.next_run_at),
        }
    }
}

/// A journal entry as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StepRow {
    /// Position in the run.
    pub seq: i32,
    /// `activity`, `timer` or `child`.
    pub kind: String,
    /// Activity type, timer label or child workflow type.
    pub name: String,
    /// `running`, `retrying`, `waiting`, `succeeded`, `failed`, `cancelled`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// Attempts made before the last manual retry (the policy counts from here).
    pub retry_base: i32,
    /// JSON output once succeeded.
    pub output: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
    /// Timer fire time, or when a retry is due.
    pub wake_at: Option<DateTime<Utc>>,
    /// The child run.
    pub child_id: Option<Uuid>,
    /// Began.
    pub started_at: DateTime<Utc>,
    /// Ended.
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    seq: i32,
    attempt: i32,
    outcome: String,
    error: Option<String>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

/// A new run.
#[derive(Clone, Debug)]
pub struct NewRun {
    /// Id.
    pub id: RunId,
    /// Owner.
    pub tenant: Option<TenantId>,
    /// Workflow type.
    pub workflow_type: String,
    /// Workflow id; unique per tenant.
    pub dedup_key: String,
    /// JSON input.
    pub input: String,
    /// The run that starts it as a child.
    pub parent: Option<RunId>,
    /// The schedule that fired it.
    pub schedule: Option<ScheduleId>,
}

/// A transaction of the runner, across tenants (see the module docs).
pub struct RunnerTx {
    pub(crate) inner: TxInner,
}

impl Store {
    /// Starts a transaction for the workflow runner.
    pub async fn runner(&self) -> Result<RunnerTx> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                set_local(&mut tx, "app.worker", "runner").await?;
                TxInner::Postgres(tx)
            }
        };
        Ok(RunnerTx { inner })
    }
}

impl RunnerTx {
    /// Makes the changes permanent.
    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
            TxInner::SqliteRead(_) | TxInner::PostgresRead(_) => {}
        }
        Ok(())
    }

    fn is_postgres(&self) -> bool {
        matches!(self.inner, TxInner::Postgres(_))
    }
}

// ---- inserting ----

/// Inserts a run unless one with its dedup key exists; returns the run with
/// that key and whether this call created it. Works in either kind of
/// transaction, so a tenant's start is audited in the same one.
macro_rules! insert_run_in {
    ($tx:expr, $run:expr, $now:expr) => {{
        let run: &NewRun = $run;
        let now: DateTime<Utc> = $now;
        let tenant = run.tenant.map(|t| t.as_uuid());
        let inserted = with_conn!($tx, |c| {
            sqlx::query(
                "INSERT INTO workflow_runs (id, tenant_id, workflow_type, dedup_key, input, status, \
                 parent_id, schedule_id, next_run_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $8, $8) ON CONFLICT DO NOTHING",
            )
            .bind(run.id.as_uuid())
            .bind(tenant)
            .bind(&run.workflow_type)
            .bind(&run.dedup_key)
            .bind(&run.input)
            .bind(run.parent.map(|p| p.as_uuid()))
            .bind(run.schedule.map(|s| s.as_uuid()))
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })?;
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE dedup_key = $1 AND \
             (tenant_id = $2 OR (tenant_id IS NULL AND $2 IS NULL))"
        );
        let row: RunRow = with_conn!($tx, |c| {
            sqlx::query_as(&sql)
                .bind(&run.dedup_key)
                .bind(tenant)
                .fetch_one(c)
                .await
        })?;
        Ok((row, inserted == 1))
    }};
}

/// Starts a tenant's run in the transaction that audits it: a member's
/// request, or the platform's own (a schedule of the tenant's).
pub async fn insert_for_tenant<S: Scoped>(
    tx: &mut Tx<S>,
    run: &NewRun,
    now: DateTime<Utc>,
) -> Result<(RunRow, bool)> {
    insert_run_in!(tx, run, now)
}

/// Starts a run from the runner (platform runs, children, schedule firings).
pub async fn insert(tx: &mut RunnerTx, run: &NewRun, now: DateTime<Utc>) -> Result<(RunRow, bool)> {
    insert_run_in!(tx, run, now)
}

// ---- what tenants see ----

/// A tenant's runs, newest first.
pub async fn list(tx: &mut TenantTx, filter: &RunFilter) -> Result<Vec<RunRow>> {
    let tenant = tx.tenant().as_uuid();
    let after = filter.cursor.map(Cursor::id);
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE tenant_id = $1 \
         AND ($2 IS NULL OR id < $2) AND ($3 IS NULL OR status = $3) ORDER BY id DESC LIMIT $4"
    );
    Ok(with_conn!(tx, |c| {
        sqlx::query_as(&sql)
            .bind(tenant)
            .bind(after)
            .bind(filter.status.map(|s| s.as_str()))
            .bind(i64::from(filter.limit.get()))
            .fetch_all(c)
            .await
    })?)
}

/// One of the tenant's runs.
pub async fn get(tx: &mut TenantTx, id: RunId) -> Result<Option<RunRow>> {
    let tenant = tx.tenant().as_uuid();
    let sql = format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE tenant_id = $1 AND id = $2");
    Ok(with_conn!(tx, |c| {
        sqlx::query_as(&sql)
            .bind(tenant)
            .bind(id.as_uuid())
            .fetch_optional(c)
            .await
    })?)
}

/// The history of one of the tenant's runs.
pub async fn history(tx: &mut TenantTx, id: RunId) -> Result<Vec<StepRecord>> {
    let tenant = tx.tenant().as_uuid();
    let steps: Vec<StepRow> = with_conn!(tx, |c| {
        sqlx::query_as(
            "SELECT seq, kind, name, status, attempts, retry_base, output, last_error, wake_at, child_id, \
             started_at, finished_at FROM workflow_steps WHERE tenant_id = $1 AND run_id = $2 ORDER BY seq",
        )
        .bind(tenant)
        .bind(id.as_uuid())
        .fetch_all(c)
        .await
    })?;
    let attempts: Vec<AttemptRow> = with_conn!(tx, |c| {
        sqlx::query_as(
            "SELECT seq, attempt, outcome, error, started_at, finished_at FROM workflow_attempts \
             WHERE tenant_id = $1 AND run_id = $2 ORDER BY seq, attempt",
        )
        .bind(tenant)
        .bind(id.as_uuid())
        .fetch_all(c)
        .await
    })?;
    let mut by_step: HashMap<i32, Vec<AttemptRecord>> = HashMap::new();
    for a in attempts {
        by_step.entry(a.seq).or_default().push(AttemptRecord {
            attempt: a.attempt.max(0) as u32,
            outcome: a.outcome,
            error: a.error,
            started_at: a.started_at,
            finished_at: a.finished_at,
            duration_ms: a
                .finished_at
                .map(|f| (f - a.started_at).num_milliseconds().max(0) as u64),
        });
    }
    Ok(steps
        .into_iter()
        .map(|s| StepRecord {
            seq: s.seq.max(0) as u32,
            attempts: by_step.remove(&s.seq).unwrap_or_default(),
            kind: s.kind,
            name: s.name,
            status: s.status,
            started_at: s.started_at,
            finished_at: s.finished_at,
        })
        .collect())
}

/// Asks a run to stop. A run no worker holds ends at once; a running one
/// ends when its worker notices (at its next heartbeat or step). Returns the
/// run after the change, or `None` when the tenant has no such run.
pub async fn request_cancel(
    tx: &mut TenantTx,
    id: RunId,
    now: DateTime<Utc>,
) -> Result<Option<RunRow>> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_runs SET cancel_requested = true, updated_at = $3, \
             status = CASE WHEN lease_owner IS NULL OR lease_until < $3 THEN 'cancelled' ELSE status END, \
             finished_at = CASE WHEN lease_owner IS NULL OR lease_until < $3 THEN $3 ELSE finished_at END, \
             last_error = CASE WHEN lease_owner IS NULL OR lease_until < $3 THEN 'cancelled on request' ELSE last_error END, \
             lease_owner = CASE WHEN lease_owner IS NULL OR lease_until < $3 THEN NULL ELSE lease_owner END \
             WHERE tenant_id = $1 AND id = $2 AND status NOT IN ('succeeded', 'failed', 'cancelled')",
        )
        .bind(tenant)
        .bind(id.as_uuid())
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    get(tx, id).await
}

/// Puts a failed or cancelled run back in the queue; the steps that stopped
/// it get a fresh allowance of attempts, finished steps keep their results.
pub async fn requeue(tx: &mut TenantTx, id: RunId, now: DateTime<Utc>) -> Result<Option<RunRow>> {
    let tenant = tx.tenant().as_uuid();
    let changed = with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_runs SET status = 'queued', cancel_requested = false, finished_at = NULL, \
             next_run_at = $3, updated_at = $3, lease_owner = NULL, lease_until = NULL \
             WHERE tenant_id = $1 AND id = $2 AND status IN ('failed', 'cancelled')",
        )
        .bind(tenant)
        .bind(id.as_uuid())
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed == 1 {
        with_conn!(tx, |c| {
            sqlx::query(
                "UPDATE workflow_steps SET status = 'retrying', retry_base = attempts, wake_at = NULL, \
                 finished_at = NULL WHERE tenant_id = $1 AND run_id = $2 \
                 AND status NOT IN ('succeeded', 'waiting')",
            )
            .bind(tenant)
            .bind(id.as_uuid())
            .execute(c)
            .await
            .map(|_| ())
        })?;
    }
    get(tx, id).await
}

/// Leaves a signal for a live run of the tenant and wakes the run, so one
/// waiting for it replays now. Returns the run, or `None` when the tenant
/// has no such run. The caller checks that the run is live.
pub async fn send_signal(
    tx: &mut TenantTx,
    id: RunId,
    name: &str,
    payload: &str,
    now: DateTime<Utc>,
) -> Result<Option<RunRow>> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| {
        sqlx::query(
            "INSERT INTO workflow_signals (id, run_id, tenant_id, name, payload, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(Uuid::now_v7())
        .bind(id.as_uuid())
        .bind(tenant)
        .bind(name)
        .bind(payload)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    // Always touch the row, even when the run is not waiting yet: a runner
    // releasing it meanwhile then orders after this statement and sees the
    // signal in its own wake-up check (see `release`).
    with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_runs SET next_run_at = $3, updated_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND status NOT IN ('succeeded', 'failed', 'cancelled')",
        )
        .bind(tenant)
        .bind(id.as_uuid())
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    get(tx, id).await
}

// ---- the runner's side ----

/// A run a worker has taken.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The run.
    pub run: RunRow,
    /// Its journal so far.
    pub steps: Vec<StepRow>,
}

/// Limits a claim respects.
#[derive(Clone, Copy, Debug)]
pub struct ClaimLimits {
    /// Runs to take at most.
    pub max: usize,
    /// Runs of one tenant held by all workers together, at most.
    pub per_tenant: usize,
}

/// Takes due runs for `worker` until `lease_until`: runs not held by a live
/// lease, oldest due first, skipping tenants already at their limit. On
/// PostgreSQL, rows another worker is claiming are skipped (`FOR UPDATE SKIP
/// LOCKED`); on SQLite the transaction holds the write lock.
pub async fn claim(
    tx: &mut RunnerTx,
    worker: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limits: ClaimLimits,
) -> Result<Vec<Claimed>> {
    if limits.max == 0 {
        return Ok(Vec::new());
    }
    let lock = if tx.is_postgres() {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let candidates_sql = format!(
        "SELECT id, tenant_id FROM workflow_runs \
         WHERE status IN ('queued', 'running', 'retrying', 'sleeping') AND next_run_at <= $1 \
         AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_run_at LIMIT $2{lock}"
    );
    let candidates: Vec<(Uuid, Option<Uuid>)> = with_conn!(tx, |c| {
        sqlx::query_as(&candidates_sql)
            .bind(now)
            .bind((limits.max * 4) as i64)
            .fetch_all(c)
            .await
    })?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let held: Vec<(Option<Uuid>, i64)> = with_conn!(tx, |c| {
        sqlx::query_as(
            "SELECT tenant_id, COUNT(*) FROM workflow_runs WHERE lease_until >= $1 \
             AND status NOT IN ('succeeded', 'failed', 'cancelled') GROUP BY tenant_id",
        )
        .bind(now)
        .fetch_all(c)
        .await
    })?;
    let mut load: HashMap<Option<Uuid>, usize> =
        held.into_iter().map(|(t, n)| (t, n as usize)).collect();
    let mut chosen = Vec::new();
    for (id, tenant) in candidates {
        let n = load.entry(tenant).or_default();
        if *n >= limits.per_tenant {
            continue;
        }
        *n += 1;
        chosen.push(id);
        if chosen.len() == limits.max {
            break;
        }
    }
    let mut claimed = Vec::with_capacity(chosen.len());
    let update_sql = format!(
        "UPDATE workflow_runs SET lease_owner = $1, lease_until = $2, \
         status = 'running', \
         started_at = COALESCE(started_at, $3), updated_at = $3 WHERE id = $4 RETURNING {RUN_COLUMNS}"
    );
    for id in chosen {
        let run: RunRow = with_conn!(tx, |c| {
            sqlx::query_as(&update_sql)
                .bind(worker)
                .bind(lease_until)
                .bind(now)
                .bind(id)
                .fetch_one(c)
                .await
        })?;
        let steps = steps_of(tx, id).await?;
        claimed.push(Claimed { run, steps });
    }
    Ok(claimed)
}

async fn steps_of(tx: &mut RunnerTx, run: Uuid) -> Result<Vec<StepRow>> {
    Ok(with_conn!(tx, |c| {
        sqlx::query_as(
            "SELECT seq, kind, name, status, attempts, retry_base, output, last_error, wake_at, child_id, \
             started_at, finished_at FROM workflow_steps WHERE run_id = $1 ORDER BY seq",
        )
        .bind(run)
        .fetch_all(c)
        .await
    })?)
}

/// Extends every lease `worker` holds, in one statement; returns the runs
/// it still holds, with whether someone asked each to stop.
pub async fn heartbeat(
    tx: &mut RunnerTx,
    worker: &str,
    lease_until: DateTime<Utc>,
) -> Result<Vec<(Uuid, bool)>> {
    Ok(with_conn!(tx, |c| {
        sqlx::query_as(
            "UPDATE workflow_runs SET lease_until = $1 WHERE lease_owner = $2 \
             RETURNING id, cancel_requested",
        )
        .bind(lease_until)
        .bind(worker)
        .fetch_all(c)
        .await
    })?)
}

/// Records the start of an activity attempt (creating its step on the
/// first); an attempt of this step still marked running belonged to a
/// worker that died, and is marked lost. Returns the attempt number.
#[allow(clippy::too_many_arguments)]
pub async fn begin_attempt(
    tx: &mut RunnerTx,
    run: &RunRow,
    seq: i32,
    name: &str,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<i32> {
    with_conn!(tx, |c| {
        sqlx::query(
            "INSERT INTO workflow_steps (run_id, tenant_id, seq, kind, name, status, attempts, started_at) \
             VALUES ($1, $2, $3, 'activity', $4, 'running', 1, $5) \
             ON CONFLICT (run_id, seq) DO UPDATE SET attempts = workflow_steps.attempts + 1, \
             status = 'running', wake_at = NULL",
        )
        .bind(run.id)
        .bind(run.tenant_id)
        .bind(seq)
        .bind(name)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_attempts SET outcome = 'lost', finished_at = $3, \
             error = 'the worker running it stopped' WHERE run_id = $1 AND seq = $2 AND outcome = 'running'",
        )
        .bind(run.id)
        .bind(seq)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    let attempt: i32 = with_conn!(tx, |c| {
        sqlx::query_scalar("SELECT attempts FROM workflow_steps WHERE run_id = $1 AND seq = $2")
            .bind(run.id)
            .bind(seq)
            .fetch_one(c)
            .await
    })?;
    with_conn!(tx, |c| {
        sqlx::query(
            "INSERT INTO workflow_attempts (run_id, tenant_id, seq, attempt, worker, outcome, started_at) \
             VALUES ($1, $2, $3, $4, $5, 'running', $6)",
        )
        .bind(run.id)
        .bind(run.tenant_id)
        .bind(seq)
        .bind(attempt)
        .bind(worker)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_runs SET attempts = attempts + 1, updated_at = $2 WHERE id = $1",
        )
        .bind(run.id)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(attempt)
}

/// How an attempt ended.
#[derive(Clone, Debug)]
pub enum AttemptEnd<'a> {
    /// With this JSON output.
    Succeeded(&'a str),
    /// With an error; another attempt is due at the given time.
    Retrying(&'a str, DateTime<Utc>),
    /// With an error that ends the step.
    Failed(&'a str),
    /// Stopped because the run was cancelled.
    Cancelled,
}

/// Records how an attempt ended, in its step and its attempt row.
pub async fn end_attempt(
    tx: &mut RunnerTx,
    run: Uuid,
    seq: i32,
    attempt: i32,
    end: AttemptEnd<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let (outcome, step_status, output, error, wake_at, finished) = match end {
        AttemptEnd::Succeeded(out) => ("succeeded", "succeeded", Some(out), None, None, Some(now)),
        AttemptEnd::Retrying(err, at) => ("failed", "retrying", None, Some(err), Some(at), None),
        AttemptEnd::Failed(err) => ("failed", "failed", None, Some(err), None, Some(now)),
        AttemptEnd::Cancelled => (
            "cancelled",
            "cancelled",
            None,
            Some("cancelled on request"),
            None,
            Some(now),
        ),
    };
    with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_steps SET status = $3, output = $4, last_error = COALESCE($5, last_error), \
             wake_at = $6, finished_at = $7 WHERE run_id = $1 AND seq = $2",
        )
        .bind(run)
        .bind(seq)
        .bind(step_status)
        .bind(output)
        .bind(error)
        .bind(wake_at)
        .bind(finished)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_attempts SET outcome = $4, error = $5, finished_at = $6 \
             WHERE run_id = $1 AND seq = $2 AND attempt = $3",
        )
        .bind(run)
        .bind(seq)
        .bind(attempt)
        .bind(outcome)
        .bind(error)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Journals a timer, child workflow or signal step (kind `timer`, `child`, `signal`) in
/// state `waiting` until `wake_at`, or `succeeded` with an output.
#[allow(clippy::too_many_arguments)]
pub async fn put_step(
    tx: &mut RunnerTx,
    run: &RunRow,
    seq: i32,
    kind: &str,
    name: &str,
    status: &str,
    output: Option<&str>,
    wake_at: Option<DateTime<Utc>>,
    child: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<()> {
    let finished = (status != "waiting").then_some(now);
    with_conn!(tx, |c| {
        sqlx::query(
            "INSERT INTO workflow_steps (run_id, tenant_id, seq, kind, name, status, output, wake_at, child_id, \
             started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (run_id, seq) DO UPDATE SET status = $6, output = $7, wake_at = $8, \
             child_id = COALESCE($9, workflow_steps.child_id), finished_at = $11",
        )
        .bind(run.id)
        .bind(run.tenant_id)
        .bind(seq)
        .bind(kind)
        .bind(name)
        .bind(status)
        .bind(output)
        .bind(wake_at)
        .bind(child)
        .bind(now)
        .bind(finished)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Takes the oldest waiting signal named `name` for step `seq` of `run`;
/// returns its payload, or `None` when none has arrived.
pub async fn take_signal(
    tx: &mut RunnerTx,
    run: Uuid,
    name: &str,
    seq: i32,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let oldest: Option<(Uuid, String)> = with_conn!(tx, |c| {
        sqlx::query_as(
            "SELECT id, payload FROM workflow_signals WHERE run_id = $1 AND name = $2 \
             AND consumed_seq IS NULL ORDER BY received_at, id LIMIT 1",
        )
        .bind(run)
        .bind(name)
        .fetch_optional(c)
        .await
    })?;
    let Some((id, payload)) = oldest else {
        return Ok(None);
    };
    with_conn!(tx, |c| {
        sqlx::query("UPDATE workflow_signals SET consumed_seq = $2, consumed_at = $3 WHERE id = $1")
            .bind(id)
            .bind(seq)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(Some(payload))
}

/// A run by id, whoever owns it (the runner reads children this way).
pub async fn get_any(tx: &mut RunnerTx, id: Uuid) -> Result<Option<RunRow>> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id = $1");
    Ok(with_conn!(tx, |c| {
        sqlx::query_as(&sql).bind(id).fetch_optional(c).await
    })?)
}

/// Records progress the workflow reported.
pub async fn set_progress(
    tx: &mut RunnerTx,
    run: Uuid,
    worker: &str,
    progress: &Progress,
) -> Result<()> {
    with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_runs SET progress_done = $3, progress_total = $4, progress_note = $5 \
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(run)
        .bind(worker)
        .bind(progress.done.min(i64::MAX as u64) as i64)
        .bind(progress.total.map(|t| t.min(i64::MAX as u64) as i64))
        .bind(progress.note.as_deref())
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Lets go of a run that is not finished: it continues at `next_run_at`
/// (a retry, a timer) in `status`. Returns false when `worker` no longer held it.
pub async fn release(
    tx: &mut RunnerTx,
    run: Uuid,
    worker: &str,
    status: RunStatus,
    next_run_at: DateTime<Utc>,
    last_error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_runs SET status = $3, next_run_at = $4, last_error = COALESCE($5, last_error), \
             lease_owner = NULL, lease_until = NULL, updated_at = $6 WHERE id = $1 AND lease_owner = $2",
        )
        .bind(run)
        .bind(worker)
        .bind(status.as_str())
        .bind(next_run_at)
        .bind(last_error)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n == 1 && status == RunStatus::Sleeping {
        // A child that ended, or a signal that arrived, while this run
        // still held its lease woke it then, and the update above has just
        // pushed that wake-up back: wake it again. (Checked after the update,
        // in a later statement, so a child ending or a signal arriving at any
        // moment is seen by one side or the other.)
        with_conn!(tx, |c| {
            sqlx::query(
                "UPDATE workflow_runs SET next_run_at = $2 WHERE id = $1 AND (EXISTS (\
                 SELECT 1 FROM workflow_steps s JOIN workflow_runs child ON child.id = s.child_id \
                 WHERE s.run_id = $1 AND s.status = 'waiting' \
                 AND child.status IN ('succeeded', 'failed', 'cancelled')) OR EXISTS (\
                 SELECT 1 FROM workflow_steps s JOIN workflow_signals g \
                 ON g.run_id = s.run_id AND g.name = s.name AND g.consumed_seq IS NULL \
                 WHERE s.run_id = $1 AND s.kind = 'signal' AND s.status = 'waiting'))",
            )
            .bind(run)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ())
        })?;
    }
    Ok(n == 1)
}

/// Ends a run for good and wakes the run waiting on it, if any. Returns
/// false when `worker` no longer held it.
pub async fn finish(
    tx: &mut RunnerTx,
    run: Uuid,
    worker: &str,
    status: RunStatus,
    output: Option<&str>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let parent: Option<Option<Uuid>> = with_conn!(tx, |c| {
        sqlx::query_scalar(
            "UPDATE workflow_runs SET status = $3, output = $4, last_error = COALESCE($5, last_error), \
             finished_at = $6, updated_at = $6, lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND lease_owner = $2 RETURNING parent_id",
        )
        .bind(run)
        .bind(worker)
        .bind(status.as_str())
        .bind(output)
        .bind(error)
        .bind(now)
        .fetch_optional(c)
        .await
    })?;
    let Some(parent) = parent else {
        return Ok(false);
    };
    if let Some(parent) = parent {
        with_conn!(tx, |c| {
            sqlx::query(
                "UPDATE workflow_runs SET next_run_at = $2 WHERE id = $1 \
                 AND status NOT IN ('succeeded', 'failed', 'cancelled')",
            )
            .bind(parent)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ())
        })?;
    }
    Ok(true)
}

/// Runs waiting for a worker now (for the queue-depth gauge).
pub async fn queue_depth(tx: &mut RunnerTx, now: DateTime<Utc>) -> Result<i64> {
    Ok(with_conn!(tx, |c| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM workflow_runs WHERE status IN ('queued', 'running', 'retrying', 'sleeping') \
             AND next_run_at <= $1 AND (lease_until IS NULL OR lease_until < $1)",
        )
        .bind(now)
        .fetch_one(c)
        .await
    })?)
}

/// The earliest time a run becomes due (to sleep until then).
pub async fn next_due(tx: &mut RunnerTx) -> Result<Option<DateTime<Utc>>> {
    Ok(with_conn!(tx, |c| {
        sqlx::query_scalar(
            "SELECT MIN(next_run_at) FROM workflow_runs \
             WHERE status IN ('queued', 'running', 'retrying', 'sleeping')",
        )
        .fetch_one(c)
        .await
    })?)
}

// ---- schedules ----

/// A schedule as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ScheduleRow {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub tenant_id: Option<Uuid>,
    /// Unique per owner.
    pub name: String,
    /// Workflow each firing starts.
    pub workflow_type: String,
    /// Its JSON input.
    pub input: String,
    /// Fixed interval, in seconds.
    pub every_secs: Option<i64>,
    /// Or a cron expression.
    pub cron: Option<String>,
    /// When it fires next.
    pub next_fire_at: DateTime<Utc>,
}

/// Creates a schedule, or replaces the one with its name (keeping its id
/// and, when the cadence is unchanged, its next firing).
#[allow(clippy::too_many_arguments)]
pub async fn upsert_schedule(
    tx: &mut RunnerTx,
    tenant: Option<TenantId>,
    name: &str,
    workflow_type: &str,
    input: &str,
    every_secs: Option<i64>,
    cron: Option<&str>,
    first_fire_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ScheduleId> {
    let tenant = tenant.map(|t| t.as_uuid());
    let existing: Option<(Uuid, Option<i64>, Option<String>)> = with_conn!(tx, |c| {
        sqlx::query_as(
            "SELECT id, every_secs, cron FROM workflow_schedules WHERE name = $1 \
             AND (tenant_id = $2 OR (tenant_id IS NULL AND $2 IS NULL))",
        )
        .bind(name)
        .bind(tenant)
        .fetch_optional(c)
        .await
    })?;
    match existing {
        Some((id, old_every, old_cron)) => {
            let same_cadence = old_every == every_secs && old_cron.as_deref() == cron;
            with_conn!(tx, |c| {
                sqlx::query(
                    "UPDATE workflow_schedules SET workflow_type = $2, input = $3, every_secs = $4, cron = $5, \
                     next_fire_at = CASE WHEN $6 THEN next_fire_at ELSE $7 END, updated_at = $8 WHERE id = $1",
                )
                .bind(id)
                .bind(workflow_type)
                .bind(input)
                .bind(every_secs)
                .bind(cron)
                .bind(same_cadence)
                .bind(first_fire_at)
                .bind(now)
                .execute(c)
                .await
                .map(|_| ())
            })?;
            Ok(ScheduleId::from_uuid(id))
        }
        None => {
            let id = ScheduleId::new();
            with_conn!(tx, |c| {
                sqlx::query(
                    "INSERT INTO workflow_schedules (id, tenant_id, name, workflow_type, input, every_secs, cron, \
                     next_fire_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                )
                .bind(id.as_uuid())
                .bind(tenant)
                .bind(name)
                .bind(workflow_type)
                .bind(input)
                .bind(every_secs)
                .bind(cron)
                .bind(first_fire_at)
                .bind(now)
                .execute(c)
                .await
                .map(|_| ())
            })?;
            Ok(id)
        }
    }
}

/// Removes a schedule; the runs it started stay. Returns whether it existed.
pub async fn delete_schedule(
    tx: &mut RunnerTx,
    tenant: Option<TenantId>,
    name: &str,
) -> Result<bool> {
    let tenant = tenant.map(|t| t.as_uuid());
    let n = with_conn!(tx, |c| {
        sqlx::query(
            "DELETE FROM workflow_schedules WHERE name = $1 \
             AND (tenant_id = $2 OR (tenant_id IS NULL AND $2 IS NULL))",
        )
        .bind(name)
        .bind(tenant)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Schedules due to fire, locked against other workers on PostgreSQL.
pub async fn due_schedules(tx: &mut RunnerTx, now: DateTime<Utc>) -> Result<Vec<ScheduleRow>> {
    let lock = if tx.is_postgres() {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "SELECT id, tenant_id, name, workflow_type, input, every_secs, cron, next_fire_at \
         FROM workflow_schedules WHERE next_fire_at <= $1 ORDER BY next_fire_at LIMIT 100{lock}"
    );
    Ok(with_conn!(tx, |c| {
        sqlx::query_as(&sql).bind(now).fetch_all(c).await
    })?)
}

/// Moves a schedule past a firing, unless another worker already has.
pub async fn advance_schedule(
    tx: &mut RunnerTx,
    id: Uuid,
    fired_at: DateTime<Utc>,
    next: DateTime<Utc>,
) -> Result<bool> {
    let n = with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_schedules SET last_fired_at = $2, next_fire_at = $3 \
             WHERE id = $1 AND next_fire_at = $2",
        )
        .bind(id)
        .bind(fired_at)
        .bind(next)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Runs of every owner by status (for operators and benchmarks).
pub async fn status_counts(tx: &mut RunnerTx) -> Result<Vec<(String, i64)>> {
    Ok(with_conn!(tx, |c| {
        sqlx::query_as("SELECT status, COUNT(*) FROM workflow_runs GROUP BY status ORDER BY status")
            .fetch_all(c)
            .await
    })?)
}

/// Records progress on a run whoever executes it (Temporal's workers hold no lease).
pub async fn record_progress(tx: &mut RunnerTx, run: Uuid, progress: &Progress) -> Result<()> {
    with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_runs SET progress_done = $2, progress_total = $3, progress_note = $4 WHERE id = $1",
        )
        .bind(run)
        .bind(progress.done.min(i64::MAX as u64) as i64)
        .bind(progress.total.map(|t| t.min(i64::MAX as u64) as i64))
        .bind(progress.note.as_deref())
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Copies how a run ended (on Temporal) into its row.
pub async fn record_outcome(
    tx: &mut RunnerTx,
    run: Uuid,
    status: RunStatus,
    output: Option<&str>,
    error: Option<&str>,
    finished_at: DateTime<Utc>,
) -> Result<()> {
    with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_runs SET status = $2, output = $3, last_error = $4, finished_at = $5, updated_at = $5 WHERE id = $1",
        )
        .bind(run)
        .bind(status.as_str())
        .bind(output)
        .bind(error)
        .bind(finished_at)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Marks a tenant's run as queued again (a retry on Temporal).
pub async fn mark_requeued(tx: &mut TenantTx, run: Uuid, now: DateTime<Utc>) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_runs SET status = 'queued', finished_at = NULL, last_error = NULL, output = NULL, updated_at = $3 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(run)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}
