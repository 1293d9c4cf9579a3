//! Daily housekeeping: sessions, invitations and idempotency keys that can
//! no longer be used are deleted, tenant by tenant.

use crate::{
    activity_def, workflow_def, ActivityCtx, ActivityOptions, Registry, WorkflowCtx, WorkflowError,
};
use chrono::Utc;
use domain::audit::NewAuditEntry;
use domain::workflows::{ActivityError, Progress};
use domain::{SystemJob, SystemScope, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::{audit, idempotency, invitations, sessions, tenants, StoreError};

/// Workflow type of the purge.
pub const PURGE: &str = "maintenance.purge_expired";
/// The schedule that runs it daily.
pub const PURGE_SCHEDULE: &str = "daily-purge";

/// Input of the purge (nothing to choose).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeInput {}

/// What one tenant's purge deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purged {
    /// Sessions.
    pub sessions: u64,
    /// Invitations.
    pub invitations: u64,
    /// Remembered idempotent responses.
    pub idempotency_keys: u64,
}

/// What the whole purge did.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PurgeReport {
    /// Tenants visited.
    pub tenants: u64,
    /// Rows deleted, summed.
    pub purged: Purged,
}

#[derive(Serialize, Deserialize)]
struct PurgeTenant {
    tenant: TenantId,
}

/// Lists the tenants, then purges each in its own activity, so a failure
/// half way resumes at the tenant it stopped at.
pub async fn purge_expired<C: WorkflowCtx>(
    ctx: &C,
    _input: PurgeInput,
) -> Result<PurgeReport, WorkflowError> {
    // Both steps are short database work: local activities on Temporal.
    let opts = ActivityOptions::default().local();
    let tenants: Vec<TenantId> = ctx.activity("maintenance.list_tenants", &(), &opts).await?;
    let total = tenants.len() as u64;
    let mut report = PurgeReport::default();
    for (i, tenant) in tenants.into_iter().enumerate() {
        let p: Purged = ctx
            .activity("maintenance.purge_tenant", &PurgeTenant { tenant }, &opts)
            .await?;
        report.tenants += 1;
        report.purged.sessions += p.sessions;
        report.purged.invitations += p.invitations;
        report.purged.idempotency_keys += p.idempotency_keys;
        ctx.progress(Progress {
            done: i as u64 + 1,
            total: Some(total),
            note: Some("tenants purged".into()),
        })
        .await?;
    }
    Ok(report)
}

fn store_failure(e: StoreError) -> ActivityError {
    match e {
        StoreError::Unavailable(m) => {
            ActivityError::retryable(format!("database unavailable: {m}"))
        }
        other => ActivityError::retryable(other.to_string()),
    }
}

async fn list_tenants(ctx: ActivityCtx, _: ()) -> Result<Vec<TenantId>, ActivityError> {
    tenants::all_ids(&ctx.env.store)
        .await
        .map_err(store_failure)
}

async fn purge_tenant(ctx: ActivityCtx, input: PurgeTenant) -> Result<Purged, ActivityError> {
    let now = Utc::now();
    let mut tx = ctx
        .env
        .store
        .system_write(&SystemScope::new(input.tenant, SystemJob::Maintenance))
        .await
        .map_err(store_failure)?;
    let purged = Purged {
        sessions: sessions::purge_ended(&mut tx, now)
            .await
            .map_err(store_failure)?,
        invitations: invitations::purge_ended(&mut tx, now)
            .await
            .map_err(store_failure)?,
        idempotency_keys: idempotency::purge_expired(&mut tx, now)
            .await
            .map_err(store_failure)?,
    };
    if purged != Purged::default() {
        let entry = NewAuditEntry::new(
            "maintenance.purged",
            "tenant",
            Some(input.tenant.to_string()),
        )
        .with_metadata(json!({ "run_id": ctx.run_id, "purged": purged }));
        audit::record(&mut tx, entry).await.map_err(store_failure)?;
    }
    tx.commit().await.map_err(store_failure)?;
    Ok(purged)
}

/// Registers the purge workflow and its activities.
pub fn register(r: &mut Registry) {
    r.workflow(workflow_def!(
        PURGE,
        purge_expired,
        input = PurgeInput,
        tenant_startable = false
    ));
    r.activity(activity_def!("maintenance.list_tenants", list_tenants));
    r.activity(activity_def!("maintenance.purge_tenant", purge_tenant));
}
