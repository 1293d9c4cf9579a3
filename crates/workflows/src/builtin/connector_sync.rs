//! Syncs one resource of a tenant's connection into the local copy, page
//! by page. Each page is an activity that fetches it and upserts its
//! records in one transaction, so a run killed mid-way resumes after the
//! last page it committed, and a page fetched twice duplicates nothing.
//!
//! Incremental syncs ask the provider for what changed since the newest
//! record stored (less a second, as providers keep times to the second).
//! A full sync marks every record it sees with the run's pass; at the end,
//! the records no pass saw were deleted at the provider and become
//! tombstones.

use crate::{
    activity_def, workflow_def, ActivityCtx, ActivityOptions, Registry, WorkflowCtx, WorkflowError,
};
use chrono::{DateTime, TimeDelta, Utc};
use connectors::{ConnectorError, ListRequest};
use domain::secrets::SecretPath;
use domain::workflows::{ActivityError, Progress, RetryPolicy};
use domain::SystemScope;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use store::connections::{self, ConnectionStatus};
use store::synced::{self, NewRecord};
use store::StoreError;
use uuid::Uuid;

/// Workflow type of a sync.
pub const SYNC: &str = "connector.sync";

/// Input of a sync.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncInput {
    /// The connection.
    pub connection_id: Uuid,
    /// The resource (`posts`).
    pub resource: String,
    /// Everything, finding deletions, rather than what changed since the
    /// last sync.
    #[serde(default)]
    pub full: bool,
}

/// What a finished sync did.
#[derive(Debug, Serialize, Deserialize)]
pub struct SyncReport {
    /// `full` or `incremental`.
    pub mode: String,
    /// Pages fetched.
    pub pages: u32,
    /// Records written.
    pub records: u64,
    /// Records found deleted at the provider (full syncs).
    pub deleted: u64,
}

#[derive(Serialize, Deserialize)]
struct Plan {
    since: Option<DateTime<Utc>>,
    pass: Option<Uuid>,
}

#[derive(Serialize, Deserialize)]
struct PageInput {
    connection_id: Uuid,
    resource: String,
    cursor: Option<String>,
    since: Option<DateTime<Utc>>,
    pass: Option<Uuid>,
}

#[derive(Serialize, Deserialize)]
struct PageOutput {
    records: u64,
    next: Option<String>,
    total: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct FinishInput {
    connection_id: Uuid,
    resource: String,
    pass: Option<Uuid>,
    error: Option<String>,
}

/// Runs a sync.
pub async fn sync<C: WorkflowCtx>(ctx: &C, input: SyncInput) -> Result<SyncReport, WorkflowError> {
    if ctx.tenant().is_none() {
        return Err(WorkflowError::Failed("a sync belongs to a tenant".into()));
    }
    let short = ActivityOptions::default().local();
    let plan: Plan = ctx.activity("connector.sync_plan", &input, &short).await?;
    let pages_opts = ActivityOptions::retry(RetryPolicy {
        max_attempts: 6,
        initial_backoff: Duration::from_secs(2),
        multiplier: 2.0,
        max_backoff: Duration::from_secs(120),
        timeout: Duration::from_secs(300),
    });
    let (mut pages, mut records, mut cursor) = (0u32, 0u64, None);
    let walked: Result<(), WorkflowError> = async {
        loop {
            let out: PageOutput = ctx
                .activity(
                    "connector.sync_page",
                    &PageInput {
                        connection_id: input.connection_id,
                        resource: input.resource.clone(),
                        cursor: cursor.take(),
                        since: plan.since,
                        pass: plan.pass,
                    },
                    &pages_opts,
                )
                .await?;
            pages += 1;
            records += out.records;
            ctx.progress(Progress {
                done: records,
                total: out.total,
                note: Some(format!(
                    "{records} {} synced, {pages} batches fetched",
                    input.resource
                )),
            })
            .await?;
            match out.next {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }
    .await;
    let error = walked.as_ref().err().map(ToString::to_string);
    let deleted: u64 = ctx
        .activity(
            "connector.sync_finish",
            &FinishInput {
                connection_id: input.connection_id,
                resource: input.resource.clone(),
                pass: plan.pass.filter(|_| error.is_none()),
                error,
            },
            &short,
        )
        .await?;
    walked?;
    Ok(SyncReport {
        mode: if plan.pass.is_some() {
            "full"
        } else {
            "incremental"
        }
        .into(),
        pages,
        records,
        deleted,
    })
}

fn scope(ctx: &ActivityCtx) -> Result<SystemScope, ActivityError> {
    ctx.tenant_scope()
        .ok_or_else(|| ActivityError::non_retryable("a sync belongs to a tenant"))
}

fn store_failure(e: StoreError) -> ActivityError {
    match e {
        StoreError::NotFound => ActivityError::non_retryable("the connection no longer exists"),
        other => ActivityError::retryable(other.to_string()),
    }
}

/// Marks the sync running and decides where it starts.
async fn plan(ctx: ActivityCtx, input: SyncInput) -> Result<Plan, ActivityError> {
    let scope = scope(&ctx)?;
    let mut tx = ctx
        .env
        .store
        .system_write(&scope)
        .await
        .map_err(store_failure)?;
    connections::record_sync(&mut tx, input.connection_id, "running", None, Utc::now())
        .await
        .map_err(store_failure)?;
    let since = if input.full {
        None
    } else {
        synced::high_water(&mut tx, input.connection_id, &input.resource)
            .await
            .map_err(store_failure)?
            .map(|t| t - TimeDelta::seconds(1))
    };
    tx.commit().await.map_err(store_failure)?;
    Ok(Plan {
        since,
        // A first sync with nothing stored is a full one, finding nothing
        // to bury but walking everything.
        pass: since.is_none().then(Uuid::now_v7),
    })
}

/// Fetches one page and stores its records.
async fn page(ctx: ActivityCtx, input: PageInput) -> Result<PageOutput, ActivityError> {
    let scope = scope(&ctx)?;
    let env = ctx
        .env
        .connectors
        .as_ref()
        .ok_or_else(|| ActivityError::non_retryable("this worker has no connectors set up"))?;
    let mut tx = ctx
        .env
        .store
        .system_read(&scope)
        .await
        .map_err(store_failure)?;
    let conn = connections::get(&mut tx, input.connection_id)
        .await
        .map_err(store_failure)?;
    tx.commit().await.map_err(store_failure)?;
    if conn.status == ConnectionStatus::NeedsReconnect {
        return Err(ActivityError::non_retryable(format!(
            "the {} connection needs reconnecting: its credentials were refused",
            conn.connector
        )));
    }
    let connector = env.registry.get(&conn.connector).ok_or_else(|| {
        ActivityError::non_retryable(format!("no connector `{}` in this build", conn.connector))
    })?;
    let path = SecretPath::parse(scope.tenant(), &conn.vault_path)
        .map_err(ActivityError::non_retryable)?;
    let secret = env.secrets.get(&path).await.map_err(|e| match e {
        domain::secrets::SecretStoreError::Unavailable(m) => {
            ActivityError::retryable(format!("secret store unavailable: {m}"))
        }
        other => ActivityError::non_retryable(other.to_string()),
    })?;
    let open = env.registry.open(conn.id, conn.settings, secret);
    let listed = connector
        .list(
            &open,
            &input.resource,
            &ListRequest {
                cursor: input.cursor,
                updated_since: input.since,
                page_size: None,
            },
        )
        .await;
    let page = match listed {
        Ok(p) => p,
        Err(e) => return Err(connector_failure(&ctx, &scope, conn.id, e).await),
    };
    let records: Vec<NewRecord> = page
        .records
        .into_iter()
        .map(|r| NewRecord {
            external_id: r.external_id,
            title: r.title,
            status: r.status,
            fields: r.fields,
            raw: r.raw,
            remote_updated_at: r.updated_at,
        })
        .collect();
    let mut tx = ctx
        .env
        .store
        .system_write(&scope)
        .await
        .map_err(store_failure)?;
    synced::upsert(
        &mut tx,
        conn.id,
        &input.resource,
        &records,
        input.pass,
        Utc::now(),
    )
    .await
    .map_err(store_failure)?;
    tx.commit().await.map_err(store_failure)?;
    Ok(PageOutput {
        records: records.len() as u64,
        next: page.next,
        total: page.total,
    })
}

/// A provider's refusal of the credentials marks the connection; nothing
/// retries it. Transient failures are retried by the engine.
async fn connector_failure(
    ctx: &ActivityCtx,
    scope: &SystemScope,
    id: Uuid,
    e: ConnectorError,
) -> ActivityError {
    if e.needs_reconnect() {
        let marked = async {
            let mut tx = ctx.env.store.system_write(scope).await?;
            connections::set_status(
                &mut tx,
                id,
                ConnectionStatus::NeedsReconnect,
                Some(&e.to_string()),
                Utc::now(),
            )
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(m) = marked {
            return ActivityError::retryable(format!(
                "{e}; and marking the connection failed: {m}"
            ));
        }
        return ActivityError::non_retryable(e.to_string());
    }
    if e.is_transient() {
        ActivityError::retryable(e.to_string())
    } else {
        ActivityError::non_retryable(e.to_string())
    }
}

/// Records how the sync ended; after a full pass, buries what it did not see.
async fn finish(ctx: ActivityCtx, input: FinishInput) -> Result<u64, ActivityError> {
    let scope = scope(&ctx)?;
    let now = Utc::now();
    let mut tx = ctx
        .env
        .store
        .system_write(&scope)
        .await
        .map_err(store_failure)?;
    let deleted = match input.pass {
        Some(pass) => synced::bury_unseen(&mut tx, input.connection_id, &input.resource, pass, now)
            .await
            .map_err(store_failure)?,
        None => 0,
    };
    let outcome = if input.error.is_some() {
        "failed"
    } else {
        "succeeded"
    };
    connections::record_sync(
        &mut tx,
        input.connection_id,
        outcome,
        input.error.as_deref(),
        now,
    )
    .await
    .map_err(store_failure)?;
    tx.commit().await.map_err(store_failure)?;
    Ok(deleted)
}

/// Registers the sync and its activities.
pub fn register(r: &mut Registry) {
    r.workflow(workflow_def!(
        SYNC,
        sync,
        input = SyncInput,
        tenant_startable = true
    ));
    r.activity(activity_def!("connector.sync_plan", plan));
    r.activity(activity_def!("connector.sync_page", page));
    r.activity(activity_def!("connector.sync_finish", finish));
}
