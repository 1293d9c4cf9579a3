//! What an activity receives.

use domain::{RunId, SystemJob, SystemScope, TenantId};
use std::path::PathBuf;
use store::Store;
use tokio_util::sync::CancellationToken;

/// The platform parts activities work with; the same for both engines.
#[derive(Clone)]
pub struct ActivityEnv {
    /// The database.
    pub store: Store,
    /// Where files (exports) are written.
    pub data_dir: PathBuf,
    /// What connector syncs need (`None`: this worker runs none).
    pub connectors: Option<ConnectorEnv>,
}

/// What connector syncs need besides the database.
#[derive(Clone)]
pub struct ConnectorEnv {
    /// Where connections' credentials are.
    pub secrets: std::sync::Arc<dyn domain::secrets::SecretStore>,
    /// The connectors and their shared HTTP machinery.
    pub registry: connectors::Registry,
}

/// One attempt of an activity.
#[derive(Clone)]
pub struct ActivityCtx {
    /// Platform parts.
    pub env: ActivityEnv,
    /// The run's tenant (`None`: platform maintenance).
    pub tenant: Option<TenantId>,
    /// The run.
    pub run_id: RunId,
    /// Stable across attempts of this step: key effects by it, so a retry
    /// after a crash does not do them twice.
    pub idempotency_key: String,
    /// 1-based attempt number.
    pub attempt: u32,
    /// Fires when the run is cancelled; long activities should stop.
    pub cancelled: CancellationToken,
}

impl ActivityCtx {
    /// The scope to touch the run's tenant's data with: the runner's own,
    /// which only repository functions written for workflows accept.
    pub fn tenant_scope(&self) -> Option<SystemScope> {
        self.tenant
            .map(|t| SystemScope::new(t, SystemJob::WorkflowRunner))
    }
}
