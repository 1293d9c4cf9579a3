//! A scriptable test workflow and helpers shared by the workflow tests.
#![allow(dead_code)]

use anyhow::{bail, Result};
use domain::workflows::{ActivityError, RetryPolicy, RunDetail, RunStatus, StartRun};
use domain::{RunId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;
use testkit::{TestApp, TestDb, WorkflowSetup};
use workflows::{
    activity_def, workflow_def, ActivityCtx, ActivityOptions, Registry, WorkflowCtx, WorkflowError,
};

/// One step of the script.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Step {
    /// An activity with an idempotent effect.
    Effect {
        label: String,
        /// Attempts that fail before one succeeds.
        #[serde(default)]
        fail_times: u32,
        /// Whether those failures may be retried.
        #[serde(default = "yes")]
        retryable: bool,
        /// The first attempt blocks this long before its effect.
        #[serde(default)]
        hold_first_ms: u64,
        /// Fails (non-retryable) until this gate is opened.
        #[serde(default)]
        gate: Option<String>,
    },
    /// A durable timer.
    Sleep { ms: u64 },
    /// A child run of the same script workflow.
    Child { steps: Vec<Step> },
    /// Waits for a signal of this name.
    Signal { name: String },
}

fn yes() -> bool {
    true
}

/// The script's input.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Script {
    pub steps: Vec<Step>,
    #[serde(default)]
    pub max_attempts: Option<u32>,
    #[serde(default)]
    pub backoff_ms: Option<u64>,
}

/// Runs its steps in order, with loops and branches as plain Rust.
pub async fn script<C: WorkflowCtx>(ctx: &C, input: Script) -> Result<Vec<String>, WorkflowError> {
    let opts = ActivityOptions::retry(RetryPolicy {
        max_attempts: input.max_attempts.unwrap_or(3),
        initial_backoff: Duration::from_millis(input.backoff_ms.unwrap_or(100)),
        multiplier: 2.0,
        max_backoff: Duration::from_secs(5),
        timeout: Duration::from_secs(30),
    });
    let mut done = Vec::new();
    for step in input.steps {
        match step {
            Step::Effect { .. } => done.push(
                ctx.activity::<Step, String>("test.effect", &step, &opts)
                    .await?,
            ),
            Step::Sleep { ms } => {
                ctx.sleep("pause", Duration::from_millis(ms)).await?;
                done.push(format!("slept {ms} ms"));
            }
            Step::Signal { name } => {
                let payload = ctx.signal(&name).await?;
                done.push(format!("{name}: {payload}"));
            }
            Step::Child { steps } => {
                let out = ctx.child("test.script", json!({ "steps": steps })).await?;
                let out: Vec<String> =
                    serde_json::from_value(out).map_err(WorkflowError::bad_input)?;
                done.extend(out.into_iter().map(|s| format!("child: {s}")));
            }
        }
    }
    Ok(done)
}

/// Effects done, by idempotency key: the value counts how often the
/// activity *applied* it (an idempotent write applies once).
pub static EFFECTS: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);
static ATTEMPTS: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);
static GATES: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Opens a gate.
pub fn open_gate(name: &str) {
    GATES
        .lock()
        .unwrap()
        .get_or_insert_with(HashSet::new)
        .insert(name.into());
}

/// How many effects with labels starting with `prefix` were applied, by
/// any run (a schedule's runs are not known by id).
pub fn effects_with_label_prefix(prefix: &str) -> usize {
    LABELS
        .lock()
        .unwrap()
        .iter()
        .flat_map(|m| m.values())
        .filter(|l| l.starts_with(prefix))
        .count()
}

static LABELS: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

/// How many distinct effects a run applied, and the most any was applied.
pub fn effects_of(run: RunId) -> (usize, u32) {
    let effects = EFFECTS.lock().unwrap();
    // Keys start with the run on both engines.
    let part = format!("{run}/");
    let mine: Vec<u32> = effects
        .iter()
        .flat_map(|m| m.iter())
        .filter(|(k, _)| k.starts_with(&part))
        .map(|(_, v)| *v)
        .collect();
    (mine.len(), mine.into_iter().max().unwrap_or(0))
}

async fn effect(ctx: ActivityCtx, step: Step) -> Result<String, ActivityError> {
    let Step::Effect {
        label,
        fail_times,
        retryable,
        hold_first_ms,
        gate,
    } = step
    else {
        return Err(ActivityError::non_retryable("not an effect step"));
    };
    let attempt = {
        let mut a = ATTEMPTS.lock().unwrap();
        let n = a
            .get_or_insert_with(HashMap::new)
            .entry(ctx.idempotency_key.clone())
            .or_default();
        *n += 1;
        *n
    };
    if attempt == 1 && hold_first_ms > 0 {
        tokio::time::sleep(Duration::from_millis(hold_first_ms)).await;
    }
    if attempt <= fail_times {
        let msg = format!("{label} failed on attempt {attempt}");
        return Err(if retryable {
            ActivityError::retryable(msg)
        } else {
            ActivityError::non_retryable(msg)
        });
    }
    if let Some(g) = gate {
        if !GATES
            .lock()
            .unwrap()
            .get_or_insert_with(HashSet::new)
            .contains(&g)
        {
            return Err(ActivityError::non_retryable(format!("gate {g} is closed")));
        }
    }
    // The idempotent write: applied only if this key has not applied it.
    let mut effects = EFFECTS.lock().unwrap();
    let map = effects.get_or_insert_with(HashMap::new);
    if !map.contains_key(&ctx.idempotency_key) {
        map.insert(ctx.idempotency_key.clone(), 1);
        LABELS
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .insert(ctx.idempotency_key.clone(), label.clone());
    }
    Ok(label)
}

/// The built-in workflows plus the script.
pub fn registry() -> Registry {
    let mut r = workflows::builtin::registry();
    r.workflow(workflow_def!(
        "test.script",
        script,
        input = Script,
        tenant_startable = true
    ));
    r.activity(activity_def!("test.effect", effect));
    r
}

/// Which engine runs the workflows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The embedded runner in the app.
    Embedded,
    /// Temporal, with a worker in this process on a task queue of its own.
    Temporal,
}

/// An app running the script workflow on the embedded runner.
pub async fn app(db: TestDb) -> Result<TestApp> {
    app_on(db, Engine::Embedded).await
}

/// An app running the script workflow on `engine`.
pub async fn app_on(db: TestDb, engine: Engine) -> Result<TestApp> {
    let temporal = (engine == Engine::Temporal).then(testkit::temporal::config);
    TestApp::spawn_with_workflows(
        db,
        WorkflowSetup {
            registry: registry(),
            temporal,
            ..Default::default()
        },
    )
    .await
}

/// Runs each test (an `async fn(Db, Engine)`) on the embedded runner over
/// SQLite and over PostgreSQL, and on Temporal.
#[macro_export]
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name(testkit::Db::Sqlite, super::Engine::Embedded).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name(testkit::Db::Postgres, super::Engine::Embedded).await
                }
            )*
        }
        mod temporal {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name(testkit::Db::Sqlite, super::Engine::Temporal).await
                }
            )*
        }
    };
}

/// An effect step.
pub fn effect_step(label: &str) -> Value {
    json!({ "do": "effect", "label": label })
}

/// Starts a script run for a tenant, directly on the engine.
pub async fn start(app: &TestApp, tenant: TenantId, input: Value) -> Result<RunId> {
    let started = app
        .workflows
        .start(StartRun {
            tenant: Some(tenant),
            requested_by: None,
            workflow_type: "test.script".into(),
            input,
            dedup_key: None,
        })
        .await?;
    Ok(started.run.id)
}

/// Waits until the run satisfies `done`, or fails after `secs`.
pub async fn wait_until(
    app: &TestApp,
    tenant: TenantId,
    run: RunId,
    secs: u64,
    done: impl Fn(&RunDetail) -> bool,
) -> Result<RunDetail> {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let d = app
            .workflows
            .get(&domain::Principal::operator(tenant).scope(), run)
            .await?;
        if done(&d) {
            return Ok(d);
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "run {run} did not get there in {secs} s; it is {:?}: {d:#?}",
                d.run.status
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the run has ended.
pub async fn finished(app: &TestApp, tenant: TenantId, run: RunId) -> Result<RunDetail> {
    wait_until(app, tenant, run, 20, |d| d.run.status.is_terminal()).await
}

/// Whether the run is in `status`.
pub fn is(status: RunStatus) -> impl Fn(&RunDetail) -> bool {
    move |d| d.run.status == status
}

/// `POST` with a token and a JSON body.
pub async fn post(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Value,
) -> Result<reqwest::Response> {
    Ok(app
        .request(reqwest::Method::POST, path, token)
        .json(&body)
        .send()
        .await?)
}

/// `POST /api/v1/workflows/{id}/signal` with `body`.
pub async fn send_signal(
    app: &TestApp,
    token: &str,
    run: &str,
    body: Value,
) -> Result<reqwest::Response> {
    post(app, token, &format!("/api/v1/workflows/{run}/signal"), body).await
}

/// Starts a script run through the API; it must be created.
pub async fn start_script(app: &TestApp, token: &str, steps: Value) -> Result<Value> {
    let res = post(
        app,
        token,
        "/api/v1/workflows",
        json!({ "workflow_type": "test.script", "input": { "steps": steps } }),
    )
    .await?;
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    Ok(res.json().await?)
}
