//! The workflows and activities an engine can run, by name.

use crate::embedded::EmbeddedCtx;
use crate::{ActivityCtx, WorkflowError};
use domain::workflows::ActivityError;
use futures::future::BoxFuture;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// An activity's body, type-erased.
pub type ActivityFn = Arc<
    dyn Fn(ActivityCtx, Value) -> BoxFuture<'static, Result<Value, ActivityError>> + Send + Sync,
>;

/// A workflow's body as the embedded runner calls it.
pub type EmbeddedWorkflowFn = Arc<
    dyn Fn(EmbeddedCtx, Value) -> BoxFuture<'static, Result<Value, WorkflowError>> + Send + Sync,
>;

/// A registered activity.
#[derive(Clone)]
pub struct ActivityDef {
    /// Unique name.
    pub name: &'static str,
    /// Its body.
    pub run: ActivityFn,
}

impl ActivityDef {
    /// Registers an async function taking and returning serde types.
    pub fn new<I, O, F, Fut>(name: &'static str, f: F) -> Self
    where
        I: serde::de::DeserializeOwned + Send + 'static,
        O: serde::Serialize + 'static,
        F: Fn(ActivityCtx, I) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<O, ActivityError>> + Send + 'static,
    {
        let f = Arc::new(f);
        Self {
            name,
            run: Arc::new(move |ctx, input| {
                let f = f.clone();
                Box::pin(async move {
                    let input: I = serde_json::from_value(input).map_err(|e| {
                        ActivityError::non_retryable(format!("invalid input for {name}: {e}"))
                    })?;
                    let out = f(ctx, input).await?;
                    serde_json::to_value(out)
                        .map_err(|e| ActivityError::non_retryable(format!("{name} output: {e}")))
                })
            }),
        }
    }
}

/// A registered workflow.
#[derive(Clone)]
pub struct WorkflowDef {
    /// Unique name (the workflow type).
    pub name: &'static str,
    /// Whether a tenant may start it through the API (maintenance may not).
    pub tenant_startable: bool,
    /// Checks an input before a run is accepted.
    pub check_input: fn(&Value) -> Result<(), String>,
    /// Its body for the embedded runner.
    pub embedded: EmbeddedWorkflowFn,
}

/// Registers a workflow written once as `async fn f<C: WorkflowCtx>(ctx: &C,
/// input: I) -> Result<O, WorkflowError>` under a name, for every engine.
#[macro_export]
macro_rules! workflow_def {
    ($name:expr, $f:path, input = $input:ty, tenant_startable = $startable:expr) => {
        $crate::WorkflowDef {
            name: $name,
            tenant_startable: $startable,
            check_input: |v| {
                <$input as ::serde::Deserialize>::deserialize(v)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            embedded: ::std::sync::Arc::new(
                |ctx: $crate::embedded::EmbeddedCtx, input: ::serde_json::Value| {
                    ::std::boxed::Box::pin(async move {
                        let input: $input = ::serde_json::from_value(input)
                            .map_err($crate::WorkflowError::bad_input)?;
                        let out = $f(&ctx, input).await?;
                        ::serde_json::to_value(out).map_err($crate::WorkflowError::engine)
                    })
                },
            ),
        }
    };
}

/// Workflows and activities by name.
#[derive(Clone, Default)]
pub struct Registry {
    workflows: BTreeMap<&'static str, WorkflowDef>,
    activities: BTreeMap<&'static str, ActivityDef>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a workflow (replacing one of the same name).
    pub fn workflow(&mut self, def: WorkflowDef) -> &mut Self {
        self.workflows.insert(def.name, def);
        self
    }

    /// Adds an activity (replacing one of the same name).
    pub fn activity(&mut self, def: ActivityDef) -> &mut Self {
        self.activities.insert(def.name, def);
        self
    }

    /// A workflow by name.
    pub fn get_workflow(&self, name: &str) -> Option<&WorkflowDef> {
        self.workflows.get(name)
    }

    /// An activity by name.
    pub fn get_activity(&self, name: &str) -> Option<&ActivityDef> {
        self.activities.get(name)
    }

    /// Every workflow type, sorted.
    pub fn workflow_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.workflows.keys().copied()
    }
}
