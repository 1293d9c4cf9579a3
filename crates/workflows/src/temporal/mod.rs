//! Temporal, the production engine: `bizosaas worker` runs the registered
//! workflows and activities on task queue `bizosaas-main`, and the server
//! starts and reads runs through the client (DESIGN §10).
//!
//! The Rust SDK registers workflows and activities by type, one Rust type
//! per workflow type and per activity. Ours are registered by name at run
//! time, so [`crate::workflow_def!`] and [`crate::activity_def!`] declare a
//! small local type for each (with the SDK's own `#[workflow]` macros for
//! workflows), and the worker registers those.

mod activity;
mod ctx;
mod engine;
mod worker;

pub use activity::{execute, Implementation};
pub use ctx::{enter, termination, TemporalCtx};
pub use engine::TemporalEngine;
pub use worker::run_worker;

use domain::{RunId, TenantId};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use std::str::FromStr;
use temporalio_client::{
    Client, ClientOptions, ClientTlsOptions, Connection, ConnectionOptions, TlsOptions, Url,
};

/// What the macros expand to; not for other use.
#[doc(hidden)]
pub mod sdk {
    pub use futures::future::BoxFuture;
    pub use temporalio_common::ActivityDefinition;
    pub use temporalio_macros::{workflow, workflow_methods};
    pub use temporalio_sdk::activities::{ActivityContext, ActivityError, ExecutableActivity};
    pub use temporalio_sdk::{SyncWorkflowContext, WorkerOptions, WorkflowContext, WorkflowResult};
}

/// How often a running activity heartbeats.
pub const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// An activity attempt whose worker has not heartbeated for this long is
/// taken as lost and retried.
pub const HEARTBEAT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The task queue workers poll unless configured otherwise.
pub const TASK_QUEUE: &str = "bizosaas-main";

/// Where the Temporal cluster is and how to reach it.
#[derive(Clone, Debug)]
pub struct TemporalConfig {
    /// `host:port` of the frontend (`TEMPORAL_ADDRESS`).
    pub address: String,
    /// Namespace (`TEMPORAL_NAMESPACE`).
    pub namespace: String,
    /// Task queue of the workflows and activities.
    pub task_queue: String,
    /// Temporal Cloud API key (implies TLS).
    pub api_key: Option<SecretString>,
    /// Connect with TLS.
    pub tls: bool,
    /// TLS settings beyond the system's trust (each implies TLS).
    pub tls_files: TlsFiles,
}

/// PEM files for TLS to a cluster with a private CA, or with mutual TLS
/// (Temporal Cloud's certificate authentication).
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    /// The CA that signed the server's certificate (`TEMPORAL_TLS_CA`);
    /// without it the system's trusted CAs are used.
    pub ca: Option<PathBuf>,
    /// This client's certificate (`TEMPORAL_TLS_CERT`).
    pub cert: Option<PathBuf>,
    /// Its private key (`TEMPORAL_TLS_KEY`).
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    fn any(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.key.is_some()
    }

    /// The client's TLS options, reading the files.
    fn options(&self) -> Result<TlsOptions, String> {
        let read = |what: &str, p: &PathBuf| {
            std::fs::read(p)
                .map_err(|e| format!("cannot read the Temporal TLS {what} {}: {e}", p.display()))
        };
        let mut tls = TlsOptions::default();
        if let Some(ca) = &self.ca {
            tls.server_root_ca_cert = Some(read("CA", ca)?);
        }
        tls.client_tls_options = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some(
                ClientTlsOptions::builder()
                    .client_cert(read("certificate", cert)?)
                    .client_private_key(read("key", key)?)
                    .build(),
            ),
            (None, None) => None,
            _ => {
                return Err(
                    "a Temporal client certificate needs its key, and a key its certificate".into(),
                )
            }
        };
        Ok(tls)
    }
}

impl TemporalConfig {
    /// Settings for a local cluster at `address`.
    pub fn local(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            namespace: "default".into(),
            task_queue: TASK_QUEUE.into(),
            api_key: None,
            tls: false,
            tls_files: TlsFiles::default(),
        }
    }
}

/// Connects a client; fails with a message naming the address.
pub async fn connect(config: &TemporalConfig) -> Result<Client, String> {
    let tls = config.tls || config.api_key.is_some() || config.tls_files.any();
    let scheme = if tls { "https" } else { "http" };
    let url = Url::from_str(&format!("{scheme}://{}", config.address))
        .map_err(|e| format!("invalid Temporal address {:?}: {e}", config.address))?;
    let mut options = ConnectionOptions::new(url).build();
    if let Some(key) = &config.api_key {
        options.api_key = Some(key.expose_secret().to_string());
    }
    if tls {
        options.tls_options = Some(config.tls_files.options()?);
    }
    let connection = Connection::connect(options)
        .await
        .map_err(|e| format!("cannot reach Temporal at {}: {e}", config.address))?;
    Client::new(
        connection,
        ClientOptions::new(config.namespace.clone()).build(),
    )
    .map_err(|e| format!("Temporal client: {e}"))
}

/// What a workflow and each of its activities receive on Temporal: the
/// input with the run it belongs to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// The run's tenant (`None`: platform maintenance).
    pub tenant: Option<TenantId>,
    /// The run, as the API knows it.
    pub run_id: RunId,
    /// The input proper.
    pub input: Value,
    /// Started by a Temporal schedule: `run_id` is the schedule's, and the
    /// firing makes a run of its own when it starts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scheduled: bool,
}

/// A workflow type by name, with JSON input and output.
pub struct NamedWorkflow(pub String);

impl temporalio_common::WorkflowDefinition for NamedWorkflow {
    type Input = Value;
    type Output = Value;
    fn name(&self) -> &str {
        &self.0
    }
}

impl temporalio_common::HasWorkflowDefinition for NamedWorkflow {
    type Run = Self;
}

/// An activity type by name, with JSON input and output.
pub struct NamedActivity(pub &'static str);

impl temporalio_common::ActivityDefinition for NamedActivity {
    type Input = Value;
    type Output = Value;
    fn name(&self) -> &str {
        self.0
    }
}

/// The one Temporal signal every workflow type handles; it carries a
/// [`domain::workflows::Signal`], whose own name the workflow waits for.
pub const SIGNAL: &str = "bizosaas.signal";

/// Signals a run on Temporal has received and not yet taken, in order: the
/// state of every workflow type.
#[derive(Debug, Default)]
pub struct Inbox(Vec<domain::workflows::Signal>);

impl Inbox {
    /// Files a signal as it arrives (the workflow's signal handler).
    pub fn receive(&mut self, signal: Value) {
        // The server validated the signal before sending it; anything else
        // cannot be waited for by name, so it is dropped.
        if let Ok(signal) = serde_json::from_value(signal) {
            self.0.push(signal);
        }
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|s| s.name == name)
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        let i = self.0.iter().position(|s| s.name == name)?;
        Some(self.0.remove(i).payload)
    }
}

/// A workflow type's state holds its [`Inbox`].
pub trait HasInbox {
    /// The inbox.
    fn inbox(&mut self) -> &mut Inbox;
    /// The inbox, to look at.
    fn inbox_ref(&self) -> &Inbox;
}

/// [`SIGNAL`] as the client sends it.
pub struct InboxSignal;

impl temporalio_common::SignalDefinition for InboxSignal {
    type Workflow = NamedWorkflow;
    type Input = Value;
    fn name(&self) -> &str {
        SIGNAL
    }
}
