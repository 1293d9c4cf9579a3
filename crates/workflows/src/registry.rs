//! The workflows and activities an engine can run, by name.

use crate::embedded::EmbeddedCtx;
use crate::{ActivityCtx, WorkflowError};
use domain::workflows::ActivityError;
use domain::workflows::{EngineError, StartRun};
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

/// Registers an activity type with a Temporal worker.
pub type TemporalActivityFn =
    fn(&mut crate::temporal::sdk::WorkerOptions, Arc<crate::temporal::Implementation>);

/// Registers a workflow type with a Temporal worker.
pub type TemporalWorkflowFn = fn(&mut crate::temporal::sdk::WorkerOptions) -> Result<(), String>;

/// A registered activity.
#[derive(Clone)]
pub struct ActivityDef {
    /// Unique name.
    pub name: &'static str,
    /// Its body.
    pub run: ActivityFn,
    /// Its registration with a Temporal worker.
    pub temporal: TemporalActivityFn,
}

/// Registers an async function `f(ctx: ActivityCtx, input: I) ->
/// Result<O, ActivityError>` as an activity under a name, for every engine.
#[macro_export]
macro_rules! activity_def {
    ($name:expr, $f:path) => {{
        struct TemporalActivity;
        impl $crate::temporal::sdk::ActivityDefinition for TemporalActivity {
            type Input = ::serde_json::Value;
            type Output = ::serde_json::Value;
            fn name(&self) -> &str {
                $name
            }
        }
        impl $crate::temporal::sdk::ExecutableActivity for TemporalActivity {
            type Implementer = $crate::temporal::Implementation;
            const REQUIRES_INSTANCE: bool = true;
            fn definition() -> Self {
                TemporalActivity
            }
            fn execute(
                implementation: Option<::std::sync::Arc<$crate::temporal::Implementation>>,
                ctx: $crate::temporal::sdk::ActivityContext,
                input: ::serde_json::Value,
            ) -> $crate::temporal::sdk::BoxFuture<
                'static,
                Result<::serde_json::Value, $crate::temporal::sdk::ActivityError>,
            > {
                $crate::temporal::execute(implementation, ctx, input)
            }
        }
        $crate::ActivityDef::new($name, $f, |options, implementation| {
            options.register_activity::<TemporalActivity>(implementation);
        })
    }};
}

impl ActivityDef {
    /// An activity from an async function taking and returning serde types
    /// (use [`activity_def!`], which also makes its Temporal type).
    pub fn new<I, O, F, Fut>(name: &'static str, f: F, temporal: TemporalActivityFn) -> Self
    where
        I: serde::de::DeserializeOwned + Send + 'static,
        O: serde::Serialize + 'static,
        F: Fn(ActivityCtx, I) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<O, ActivityError>> + Send + 'static,
    {
        let f = Arc::new(f);
        Self {
            name,
            temporal,
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
    /// Its registration with a Temporal worker.
    pub temporal: TemporalWorkflowFn,
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
            temporal: |options| {
                #[$crate::temporal::sdk::workflow]
                #[derive(Default)]
                struct TemporalWorkflow {
                    inbox: $crate::temporal::Inbox,
                }
                impl $crate::temporal::HasInbox for TemporalWorkflow {
                    fn inbox(&mut self) -> &mut $crate::temporal::Inbox {
                        &mut self.inbox
                    }
                    fn inbox_ref(&self) -> &$crate::temporal::Inbox {
                        &self.inbox
                    }
                }
                #[$crate::temporal::sdk::workflow_methods]
                impl TemporalWorkflow {
                    #[signal(name = "bizosaas.signal")]
                    fn signal(
                        &mut self,
                        _ctx: &mut $crate::temporal::sdk::SyncWorkflowContext<Self>,
                        signal: ::serde_json::Value,
                    ) {
                        self.inbox.receive(signal);
                    }

                    #[run(name = $name)]
                    async fn run(
                        ctx: &mut $crate::temporal::sdk::WorkflowContext<Self>,
                        input: ::serde_json::Value,
                    ) -> $crate::temporal::sdk::WorkflowResult<::serde_json::Value>
                    {
                        let (ctx, input) = $crate::temporal::enter(ctx, $name, input).await?;
                        let input: $input = ::serde_json::from_value(input).map_err(|e| {
                            $crate::temporal::termination($crate::WorkflowError::bad_input(e))
                        })?;
                        let out = $f(&ctx, input)
                            .await
                            .map_err($crate::temporal::termination)?;
                        ::serde_json::to_value(out).map_err(|e| {
                            $crate::temporal::termination($crate::WorkflowError::engine(e))
                        })
                    }
                }
                options
                    .register_workflow::<TemporalWorkflow>()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
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

    /// Every workflow.
    pub fn workflows(&self) -> impl Iterator<Item = &WorkflowDef> + '_ {
        self.workflows.values()
    }

    /// Every activity.
    pub fn activities(&self) -> impl Iterator<Item = &ActivityDef> + '_ {
        self.activities.values()
    }

    /// Every workflow type, sorted.
    pub fn workflow_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.workflows.keys().copied()
    }
}

/// Checks a workflow id a client chose.
fn check_key(key: &str) -> Result<(), EngineError> {
    if key.is_empty() || key.len() > 200 || key.chars().any(char::is_control) {
        return Err(EngineError::Invalid(
            "workflow_key must be 1 to 200 characters without control characters".into(),
        ));
    }
    Ok(())
}

impl Registry {
    /// Checks a start request against the registered workflows: the type is
    /// known, a tenant may start it, the key and the input fit.
    pub fn check_start(&self, req: &StartRun) -> Result<(), EngineError> {
        let Some(def) = self.get_workflow(&req.workflow_type) else {
            let known: Vec<_> = self.workflow_names().collect();
            return Err(EngineError::Invalid(format!(
                "unknown workflow type {:?}; known types: {}",
                req.workflow_type,
                known.join(", ")
            )));
        };
        if req.requested_by.is_some() && !def.tenant_startable {
            return Err(EngineError::Invalid(format!(
                "{} is run by the platform and cannot be started by a tenant",
                def.name
            )));
        }
        if let Some(key) = &req.dedup_key {
            check_key(key)?;
        }
        (def.check_input)(&req.input)
            .map_err(|e| EngineError::Invalid(format!("invalid input for {}: {e}", def.name)))
    }
}
