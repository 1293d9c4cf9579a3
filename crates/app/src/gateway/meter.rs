//! Usage of gateway calls, recorded off the hot path: the request hands
//! what it used to a background writer and answers at once. The writer
//! takes what has queued up within [`LINGER`] (up to [`BATCH`] calls) and
//! records the calls
//! of each caller, settling their budget holds, in one transaction, so a
//! busy gateway writes a few transactions a second rather than one a call;
//! it retries while the database is away, and the server flushes it before
//! it stops, so a graceful stop loses nothing.

use crate::budgets::Hold;
use crate::App;
use chrono::Utc;
use domain::TenantScope;
use std::sync::OnceLock;
use std::time::Duration;
use store::usage::{self, UsageRecord};
use tokio::sync::{mpsc, oneshot};

/// Calls waiting to be written before a request has to wait for room.
const QUEUE: usize = 16_384;
/// Attempts to write a batch before its calls are logged as lost.
const ATTEMPTS: u32 = 10;
/// Most calls written together.
const BATCH: usize = 4096;
/// How long a finished call may wait for others to be written with it: a
/// few dozen transactions a second at most, however busy the gateway, and
/// the usage report lags by no more than this.
const LINGER: Duration = Duration::from_millis(20);

/// One finished call.
pub struct Metered {
    /// The caller (its tenant and token).
    pub scope: TenantScope,
    /// What to record.
    pub record: UsageRecord,
    /// Its hold on the budget, settled with it.
    pub hold: Option<Hold>,
}

enum Job {
    Call(Box<Metered>),
    Flush(oneshot::Sender<()>),
}

/// The background writer, started on first use.
#[derive(Default)]
pub struct Meter {
    queue: OnceLock<mpsc::Sender<Job>>,
}

impl Meter {
    fn queue(&self, state: &App) -> &mpsc::Sender<Job> {
        self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(write_all(state.clone(), rx));
            tx
        })
    }

    /// Hands a call to the writer; waits only when the queue is full.
    pub fn record(&self, state: &App, m: Metered) {
        let queue = self.queue(state);
        if let Err(mpsc::error::TrySendError::Full(job)) = queue.try_send(Job::Call(Box::new(m))) {
            let queue = queue.clone();
            tokio::spawn(async move {
                let _ = queue.send(job).await;
            });
        }
    }

    /// Waits until every call handed over so far is written.
    pub async fn flush(&self) {
        let Some(queue) = self.queue.get() else {
            return;
        };
        let (done, written) = oneshot::channel();
        if queue.send(Job::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn write_all(state: App, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        take_waiting(&mut rx, &mut jobs);
        // Calls that end close together share a transaction: unless asked
        // to flush or holding a full batch, the writer lets them gather a
        // moment.
        if jobs.len() < BATCH && !jobs.iter().any(|j| matches!(j, Job::Flush(_))) {
            tokio::time::sleep(LINGER).await;
            take_waiting(&mut rx, &mut jobs);
        }
        // The calls of each caller (tenant and token) go in one transaction.
        let mut groups: Vec<(TenantScope, Vec<Metered>)> = Vec::new();
        let mut flushed = Vec::new();
        for job in jobs {
            match job {
                Job::Flush(done) => flushed.push(done),
                Job::Call(m) => match groups.iter_mut().find(|(s, _)| *s == m.scope) {
                    Some((_, calls)) => calls.push(*m),
                    None => groups.push((m.scope, vec![*m])),
                },
            }
        }
        for (scope, calls) in &groups {
            write_group(&state, scope, calls).await;
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

/// Moves what waits in the queue into `jobs`, up to [`BATCH`].
fn take_waiting(rx: &mut mpsc::Receiver<Job>, jobs: &mut Vec<Job>) {
    while jobs.len() < BATCH {
        match rx.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
}

async fn write_group(state: &App, scope: &TenantScope, calls: &[Metered]) {
    let mut wait = Duration::from_millis(100);
    for attempt in 1..=ATTEMPTS {
        match try_write(state, scope, calls).await {
            Ok(()) => return,
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, calls = calls.len(), "recording gateway calls failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            Err(e) => {
                for m in calls {
                    tracing::error!(
                        error = %e,
                        tenant = %scope.tenant(),
                        provider = %m.record.provider,
                        model = %m.record.model,
                        input_tokens = m.record.input_tokens,
                        output_tokens = m.record.output_tokens,
                        "a gateway call could not be recorded"
                    );
                }
            }
        }
    }
}

async fn try_write(
    state: &App,
    scope: &TenantScope,
    calls: &[Metered],
) -> Result<(), crate::AppError> {
    let mut tx = state.store.write(scope).await?;
    let records: Vec<&UsageRecord> = calls.iter().map(|m| &m.record).collect();
    usage::record_all(&mut tx, &records).await?;
    for m in calls {
        if let Some(h) = &m.hold {
            crate::budgets::settle(
                state,
                &mut tx,
                h,
                m.record.input_tokens + m.record.output_tokens,
                m.record.cost_micros,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A record of a call that ended now.
pub fn record(
    service: &str,
    model: &str,
    input_tokens: u64,
    output_tokens: u64,
    latency: Duration,
) -> UsageRecord {
    UsageRecord {
        id: uuid::Uuid::now_v7(),
        agent_id: None,
        provider: service.to_string(),
        model: model.to_string(),
        input_tokens: input_tokens as i64,
        output_tokens: output_tokens as i64,
        cost_micros: ai::prices::cost_micros(service, model, input_tokens, output_tokens),
        latency_ms: latency.as_millis() as i64,
        created_at: Utc::now(),
    }
}
