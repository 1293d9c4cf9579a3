//! Usage of gateway calls, recorded off the hot path: the request hands
//! what it used to a background writer and answers at once. The writer
//! records each call and settles its budget hold in one transaction,
//! retrying while the database is away; the server flushes it before it
//! stops, so a graceful stop loses nothing.

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
/// Attempts to write one call before it is logged as lost.
const ATTEMPTS: u32 = 10;

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
    while let Some(job) = rx.recv().await {
        match job {
            Job::Flush(done) => {
                let _ = done.send(());
            }
            Job::Call(m) => write_one(&state, &m).await,
        }
    }
}

async fn write_one(state: &App, m: &Metered) {
    let mut wait = Duration::from_millis(100);
    for attempt in 1..=ATTEMPTS {
        match try_write(state, m).await {
            Ok(()) => return,
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "recording a gateway call failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            Err(e) => tracing::error!(
                error = %e,
                tenant = %m.scope.tenant(),
                provider = %m.record.provider,
                model = %m.record.model,
                input_tokens = m.record.input_tokens,
                output_tokens = m.record.output_tokens,
                "a gateway call could not be recorded"
            ),
        }
    }
}

async fn try_write(state: &App, m: &Metered) -> Result<(), crate::AppError> {
    let mut tx = state.store.write(&m.scope).await?;
    usage::record(&mut tx, &m.record).await?;
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
