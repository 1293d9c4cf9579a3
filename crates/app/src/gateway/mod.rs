//! The OpenAI-compatible gateway: a tenant's own apps call
//! `/v1/chat/completions`, `/v1/embeddings` and `/v1/models` with an API
//! token holding the `gateway` scope, and the request goes to the tenant's
//! own key of the provider the model name starts with
//! (`openai/gpt-4o-mini`, `anthropic/claude-…`, `openrouter/…`, `local/…`).
//!
//! Providers that speak OpenAI's dialect get the caller's body as it is,
//! but for the model name (and, when streaming, a request for the usage
//! frame), and their answer is relayed byte for byte; Anthropic's are
//! translated. The budget is held before the call, as for agents; what the
//! call used is recorded and settled off the hot path ([`meter`]).

mod cache;
pub mod meter;
pub mod relay;
pub mod route;
pub mod translate;

use crate::budgets::Hold;
use crate::chat::LOCAL_SERVICE;
use crate::{App, AppError};
use ai::chat::Upstream;
use bytes::Bytes;
use cache::StampedCache;
use domain::llm::{ChatEvent, ChatModel, LlmError, Usage};
use domain::tokens::Scope;
use domain::{Principal, TenantScope};
use futures::StreamExt;
use meter::{Meter, Metered};
use relay::{ByteStream, OnEnd, Relay};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use store::budgets::Budget;
use store::changes::Topic;

/// Tokens held for an answer whose request sets no limit.
const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The gateway's caches and its usage writer, shared by every request.
pub struct Gateway {
    upstreams: StampedCache<String, Option<Upstream>>,
    budgets: StampedCache<(), Option<Budget>>,
    /// Records what calls used, off the hot path.
    pub meter: Meter,
}

impl Gateway {
    /// Caches kept at most `ttl` (zero: none).
    pub fn new(ttl: Duration) -> Self {
        Self {
            upstreams: StampedCache::new(Topic::Secrets, ttl),
            budgets: StampedCache::new(Topic::Budgets, ttl),
            meter: Meter::default(),
        }
    }
}

/// What the gateway answers.
pub enum Reply {
    /// A whole JSON body.
    Json(Bytes),
    /// Server-sent events (`text/event-stream`).
    Events(ByteStream),
}

/// One model the gateway offers.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelEntry {
    /// `provider/model`, the name to ask for.
    pub id: String,
    /// Always `model`.
    pub object: String,
    /// Unknown to the gateway: 0.
    pub created: i64,
    /// The provider service.
    pub owned_by: String,
}

/// `GET /v1/models`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    /// The models, by provider.
    pub data: Vec<ModelEntry>,
}

fn require_gateway(who: &Principal) -> Result<TenantScope, AppError> {
    if who.has_scope(Scope::Gateway) {
        Ok(who.scope())
    } else {
        Err(AppError::Forbidden(
            "the gateway needs an API token with the `gateway` scope (create one under Settings › API tokens)".into(),
        ))
    }
}

/// The fields of a request the gateway reads; the rest it passes on.
struct Head<'a> {
    fields: BTreeMap<String, &'a RawValue>,
    model: String,
    stream: bool,
    include_usage: bool,
    max_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

fn head(body: &[u8]) -> Result<Head<'_>, AppError> {
    let fields: BTreeMap<String, &RawValue> = serde_json::from_slice(body)
        .map_err(|e| AppError::MalformedBody(format!("the body is not a JSON object: {e}")))?;
    let field = |name: &str| fields.get(name).map(|v| v.get());
    let model = match field("model").map(serde_json::from_str::<String>) {
        Some(Ok(m)) => m,
        Some(Err(_)) => return Err(AppError::field("model", "must be a string")),
        None => {
            return Err(AppError::field(
                "model",
                "is required, as `provider/model` (e.g. `openai/gpt-4o-mini`)",
            ))
        }
    };
    let stream = match field("stream") {
        None | Some("null") => false,
        Some(v) => serde_json::from_str(v)
            .map_err(|_| AppError::field("stream", "must be true or false"))?,
    };
    let include_usage = match field("stream_options") {
        None | Some("null") => false,
        Some(v) => {
            serde_json::from_str::<StreamOptions>(v)
                .map_err(|_| AppError::field("stream_options", "must be an object"))?
                .include_usage
        }
    };
    let number = |name: &str| -> Result<Option<u64>, AppError> {
        match field(name) {
            None | Some("null") => Ok(None),
            Some(v) => serde_json::from_str(v)
                .map(Some)
                .map_err(|_| AppError::field(name, "must be a whole number of tokens")),
        }
    };
    let max_tokens = number("max_completion_tokens")?.or(number("max_tokens")?);
    Ok(Head {
        fields,
        model,
        stream,
        include_usage,
        max_tokens,
    })
}

/// The body for the provider: the caller's, with the provider's own model
/// name and, when streaming, the usage frame asked for.
fn outgoing(head: &Head<'_>, model: &str) -> Result<Bytes, AppError> {
    let bad = |e: serde_json::Error| AppError::Internal(format!("rewriting a request: {e}"));
    let model = serde_json::value::to_raw_value(model).map_err(bad)?;
    let options = serde_json::value::to_raw_value(&serde_json::json!({"include_usage": true}))
        .map_err(bad)?;
    let mut fields = head.fields.clone();
    fields.insert("model".into(), &model);
    if head.stream {
        fields.insert("stream_options".into(), &options);
    }
    serde_json::to_vec(&fields).map(Bytes::from).map_err(bad)
}

/// The provider client for `service`, cached until its key changes.
async fn upstream(state: &App, scope: &TenantScope, service: &str) -> Result<Upstream, AppError> {
    let (tenant, changes) = (scope.tenant(), state.store.changes());
    let cache = &state.gateway.upstreams;
    let found = match cache.get(changes, tenant, service.to_string()) {
        Some(found) => found,
        None => {
            let stamp = cache.stamp(changes, tenant);
            let found = crate::chat::upstream_for_service(state, scope, service).await?;
            if let Some(stamp) = stamp {
                cache.put(stamp, tenant, service.to_string(), found.clone());
            }
            found
        }
    };
    found.ok_or_else(|| {
        AppError::Conflict(if service == LOCAL_SERVICE {
            "this platform runs no local model (`ai.local_url`); name a provider the workspace has a key for (GET /v1/models)".into()
        } else {
            format!("this workspace has no `{service}` key; add one at /ai-agents/byok (GET /v1/models lists what it can use)")
        })
    })
}

/// The tenant's budget, cached until an admin changes it.
async fn budget(state: &App, scope: &TenantScope) -> Result<Option<Budget>, AppError> {
    let (tenant, changes) = (scope.tenant(), state.store.changes());
    let cache = &state.gateway.budgets;
    if let Some(b) = cache.get(changes, tenant, ()) {
        return Ok(b);
    }
    let stamp = cache.stamp(changes, tenant);
    let b = crate::budgets::of(state, scope).await?;
    if let Some(stamp) = stamp {
        cache.put(stamp, tenant, (), b);
    }
    Ok(b)
}

/// Counts the request against the token's rate, then holds the most a
/// call may use: its prompt (about four bytes a token) and all it may
/// write; nothing when the tenant has no budget.
async fn hold(
    state: &App,
    scope: &TenantScope,
    service: &str,
    model: &str,
    prompt_bytes: usize,
    max_tokens: Option<u64>,
) -> Result<Option<Hold>, AppError> {
    let budget = budget(state, scope).await?;
    crate::budgets::admit(state, scope, budget).await?;
    let Some(b) = budget else {
        return Ok(None);
    };
    let prompt = (prompt_bytes / 4 + 1) as u64;
    let most = max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    let cost = ai::prices::cost_micros(service, model, prompt, most);
    // A caller may ask for any number of tokens: the hold saturates rather
    // than overflows (and then simply does not fit).
    let tokens = i64::try_from(prompt.saturating_add(most)).unwrap_or(i64::MAX);
    crate::budgets::hold(state, scope, b, tokens, cost)
        .await
        .map(Some)
}

async fn release(state: &App, scope: &TenantScope, hold: Option<Hold>) {
    let Some(h) = hold else { return };
    let released = async {
        let mut tx = state.store.write(scope).await?;
        crate::budgets::settle(state, &mut tx, &h, 0, 0).await?;
        tx.commit().await?;
        Ok::<_, AppError>(())
    };
    if let Err(e) = released.await {
        tracing::warn!(error = %e, "a budget hold could not be released; it lapses at the month's end");
    }
}

/// A provider's failure as the gateway's caller sees it.
fn failure(e: LlmError, service: &str) -> AppError {
    match e {
        LlmError::InvalidKey { provider, message } => AppError::Conflict(format!(
            "{provider} refused the workspace's `{service}` key ({message}); replace it at /ai-agents/byok"
        )),
        LlmError::RateLimited { retry_after, .. } => AppError::TooManyRequests {
            detail: e.to_string(),
            retry_after: retry_after.unwrap_or(30),
        },
        LlmError::ContextTooLong(m) => AppError::field(
            "messages",
            format!("the conversation is longer than the model's context: {m}"),
        ),
        LlmError::Refused { .. } => AppError::field("model", e.to_string()),
        LlmError::Upstream { .. } | LlmError::Timeout { .. } | LlmError::Unreachable { .. } => {
            AppError::Unavailable(format!("{e}; the request may be sent again"))
        }
    }
}

/// What the meter is told when a call ends.
fn on_end(
    state: &App,
    scope: TenantScope,
    service: &str,
    model: &str,
    hold: Option<Hold>,
    prompt_bytes: usize,
    started: Instant,
) -> OnEnd {
    let (state, service, model) = (state.clone(), service.to_string(), model.to_string());
    Box::new(move |usage: Option<Usage>, frames: u64| {
        let u = usage.unwrap_or(Usage {
            input_tokens: (prompt_bytes / 4) as u64,
            output_tokens: frames,
        });
        let record = meter::record(
            &service,
            &model,
            u.input_tokens,
            u.output_tokens,
            started.elapsed(),
        );
        state.gateway.meter.record(
            &state,
            Metered {
                scope,
                record,
                hold,
            },
        );
    })
}

#[derive(Deserialize)]
struct WholeUsage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

fn usage_of(body: &[u8]) -> Option<Usage> {
    let u = serde_json::from_slice::<WholeUsage>(body).ok()?.usage?;
    Some(Usage {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
    })
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    state: &App,
    who: &Principal,
    body: Bytes,
) -> Result<Reply, AppError> {
    let scope = require_gateway(who)?;
    let head = head(&body)?;
    let route = route::parse(&head.model)?;
    let upstream = upstream(state, &scope, route.service).await?;
    let held = hold(
        state,
        &scope,
        route.service,
        route.model,
        body.len(),
        head.max_tokens,
    )
    .await?;
    let started = Instant::now();
    let end = on_end(
        state,
        scope,
        route.service,
        route.model,
        held.clone(),
        body.len(),
        started,
    );
    match upstream {
        Upstream::OpenAi(client) => {
            let sent = match outgoing(&head, route.model) {
                Ok(out) => client.relay("/chat/completions", out).await,
                Err(e) => {
                    release(state, &scope, held).await;
                    return Err(e);
                }
            };
            let res = match sent {
                Ok(res) => res,
                Err(e) => {
                    release(state, &scope, held).await;
                    return Err(failure(e, route.service));
                }
            };
            if head.stream {
                let relay = Relay::new(res.into_stream(), !head.include_usage, end);
                return Ok(Reply::Events(Box::pin(relay)));
            }
            whole(state, &scope, res, held, route.service, end).await
        }
        Upstream::Anthropic(client) => {
            let req = match translate::request(&body, route.model) {
                Ok(req) => req,
                Err(e) => {
                    release(state, &scope, held).await;
                    return Err(e);
                }
            };
            let id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
            let created = chrono::Utc::now().timestamp();
            if !head.stream {
                return match client.chat(&req).await {
                    Ok(a) => {
                        end(Some(a.usage), 0);
                        let json = translate::completion(&id, created, &head.model, &a);
                        Ok(Reply::Json(Bytes::from(json.to_string())))
                    }
                    Err(e) => {
                        release(state, &scope, held).await;
                        Err(failure(e, route.service))
                    }
                };
            }
            let events = match client.chat_stream(&req).await {
                Ok(events) => events,
                Err(e) => {
                    release(state, &scope, held).await;
                    return Err(failure(e, route.service));
                }
            };
            let chunks =
                translate::Chunks::new(id, created, head.model.clone(), head.include_usage);
            Ok(Reply::Events(translated(
                events,
                chunks,
                end,
                route.service.to_string(),
            )))
        }
    }
}

/// A whole (not streamed) answer: read, metered, passed on.
async fn whole(
    state: &App,
    scope: &TenantScope,
    res: ai::chat::openai::Relayed,
    held: Option<Hold>,
    service: &str,
    end: OnEnd,
) -> Result<Reply, AppError> {
    match res.whole().await {
        Ok(bytes) => {
            end(usage_of(&bytes), 0);
            Ok(Reply::Json(bytes))
        }
        Err(e) => {
            release(state, scope, held).await;
            Err(failure(e, service))
        }
    }
}

/// Reports the end of a translated stream once, when it ends or is dropped.
struct Ending {
    end: Option<OnEnd>,
    usage: Option<Usage>,
    frames: u64,
}

impl Drop for Ending {
    fn drop(&mut self) {
        if let Some(end) = self.end.take() {
            end(self.usage, self.frames);
        }
    }
}

fn translated(
    events: domain::llm::ChatStream,
    chunks: translate::Chunks,
    end: OnEnd,
    service: String,
) -> ByteStream {
    let ending = Ending {
        end: Some(end),
        usage: None,
        frames: 0,
    };
    Box::pin(futures::stream::unfold(
        (events, chunks, ending, false),
        move |(mut events, mut chunks, mut ending, done)| {
            let service = service.clone();
            async move {
                if done {
                    return None;
                }
                let out = match events.next().await? {
                    Ok(e) => {
                        match &e {
                            ChatEvent::Done { usage, .. } => ending.usage = Some(*usage),
                            _ => ending.frames += 1,
                        }
                        let last = matches!(e, ChatEvent::Done { .. });
                        let frames = chunks.event(&e);
                        return Some((Ok(Bytes::from(frames)), (events, chunks, ending, last)));
                    }
                    Err(e) => {
                        let err = failure(e, &service);
                        let frame = serde_json::json!({"error": {"message": err.to_string(), "type": "upstream_error"}});
                        Bytes::from(format!("data: {frame}\n\n"))
                    }
                };
                Some((Ok(out), (events, chunks, ending, true)))
            }
        },
    ))
}

/// `POST /v1/embeddings`, for providers that speak OpenAI's dialect.
pub async fn embeddings(state: &App, who: &Principal, body: Bytes) -> Result<Reply, AppError> {
    let scope = require_gateway(who)?;
    let mut head = head(&body)?;
    head.stream = false;
    let route = route::parse(&head.model)?;
    let Upstream::OpenAi(client) = upstream(state, &scope, route.service).await? else {
        return Err(AppError::field(
            "model",
            format!(
                "`{}` offers no embeddings through the gateway; use an OpenAI-compatible provider",
                route.service
            ),
        ));
    };
    let held = hold(
        state,
        &scope,
        route.service,
        route.model,
        body.len(),
        Some(0),
    )
    .await?;
    let started = Instant::now();
    let end = on_end(
        state,
        scope,
        route.service,
        route.model,
        held.clone(),
        body.len(),
        started,
    );
    let sent = match outgoing(&head, route.model) {
        Ok(out) => client.relay("/embeddings", out).await,
        Err(e) => Err(LlmError::Refused {
            provider: "the gateway",
            message: e.to_string(),
        }),
    };
    match sent {
        Ok(res) => whole(state, &scope, res, held, route.service, end).await,
        Err(e) => {
            release(state, &scope, held).await;
            Err(failure(e, route.service))
        }
    }
}

/// `GET /v1/models`: every model of every provider the tenant has a key
/// for (and the local model), as `provider/model`. A provider that cannot
/// be asked right now is left out, and logged.
pub async fn models(state: &App, who: &Principal) -> Result<ModelList, AppError> {
    let scope = require_gateway(who)?;
    let mut tx = state.store.read(&scope).await?;
    let keys = store::api_keys::list(&mut tx).await?;
    tx.commit().await?;
    let mut services: Vec<String> = keys.into_iter().map(|k| k.service).collect();
    if state.models.local().is_some() {
        services.push(LOCAL_SERVICE.into());
    }
    let lists = futures::future::join_all(services.iter().map(|service| async move {
        let client = upstream(state, &scope, service).await?.model();
        let listed = tokio::time::timeout(Duration::from_secs(15), client.models()).await;
        match listed {
            Ok(Ok(models)) => Ok(models),
            Ok(Err(e)) => Err(failure(e, service)),
            Err(_) => Err(AppError::Unavailable(format!(
                "`{service}` did not list its models in time"
            ))),
        }
    }))
    .await;
    let mut data = Vec::new();
    for (service, listed) in services.iter().zip(lists) {
        match listed {
            Ok(models) => data.extend(models.into_iter().map(|m| ModelEntry {
                id: format!("{service}/{m}"),
                object: "model".into(),
                created: 0,
                owned_by: service.clone(),
            })),
            Err(e) => {
                tracing::warn!(service = %service, error = %e, "a provider's models could not be listed")
            }
        }
    }
    Ok(ModelList {
        object: "list".into(),
        data,
    })
}
