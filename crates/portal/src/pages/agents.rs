//! `/ai-agents`: the workspace's agents, made from the catalogue's
//! templates; `/ai-agents/{id}`: one agent, with a Chat tab and a tab per
//! part of its configuration (Basic, System prompt, Fine-tuning, LLM,
//! Tools, Permissions). Each configuration tab saves on its own, says so,
//! and the change persists across a reload (post, then redirect). The
//! chat streams the answer into the page (app.js reads the events of
//! `POST /ai-agents/{id}/chat`); without script the form posts and the
//! page shows the whole answer.

use crate::origin::Origin;
use crate::render::{inline_problem, page, Chrome, PageError};
use crate::session::{CheckedForm, Csrf, NoFields, SignedIn};
use ai::catalog::Template as AgentTemplate;
use app::agents::{self, AgentView, CreateAgent, UpdateAgent};
use app::approvals::{self, Decided};
use app::chat::{self, ChatEvent, ChatInput, ConversationView, MessageView};
use app::input::PageParams;
use app::App;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use domain::agents::AgentConfig;
use domain::roles::Role;
use domain::validation::FieldError;
use serde::Deserialize;
use std::collections::HashMap;
use std::convert::Infallible;
use tokio::sync::mpsc;

/// The tabs of an agent's page: query value and label.
const TABS: [(&str, &str); 8] = [
    ("chat", "Chat"),
    ("basic", "Basic"),
    ("prompt", "System prompt"),
    ("fine-tuning", "Fine-tuning"),
    ("llm", "LLM config"),
    ("tools", "Tools"),
    ("apis", "APIs"),
    ("permissions", "Permissions"),
];

const ROLES: [Role; 4] = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];

#[derive(Template)]
#[template(path = "agents.html")]
struct AgentsPage {
    chrome: Chrome,
    agents: Vec<AgentView>,
    templates: &'static [AgentTemplate],
    message: Option<String>,
}

/// `GET /ai-agents`.
pub async fn list(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
) -> Result<Response, PageError> {
    let p = agents_page(&state, &user, &csrf, None).await?;
    Ok(page(StatusCode::OK, &p))
}

async fn agents_page(
    state: &App,
    user: &SignedIn,
    csrf: &Csrf,
    message: Option<String>,
) -> Result<AgentsPage, PageError> {
    let page_of = agents::list(state, &user.principal, PageParams::largest()).await?;
    Ok(AgentsPage {
        chrome: Chrome::new("AI Agents", &csrf.0, Some(user.profile.clone()), "agents"),
        agents: page_of.items,
        templates: ai::catalog::templates(),
        message,
    })
}

/// The create form.
#[derive(Deserialize)]
pub struct CreateForm {
    template: String,
}

/// `POST /ai-agents`: a new agent from a template, then its page.
pub async fn create(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    CheckedForm(f): CheckedForm<CreateForm>,
) -> Result<Response, PageError> {
    let body = CreateAgent {
        template: Some(f.template),
        name: None,
        description: None,
        config: None,
    };
    match agents::create(&state, &user.principal, origin, body).await {
        Ok(created) => Ok(Redirect::to(&format!(
            "/ai-agents/{}?tab=basic&saved=created",
            created.value.id
        ))
        .into_response()),
        Err(e) => {
            let problem = inline_problem(e)?;
            let p = agents_page(
                &state,
                &user,
                &csrf,
                Some(format!("Not created: {}", problem.detail)),
            )
            .await?;
            Ok(page(crate::render::status_of(problem.status), &p))
        }
    }
}

#[derive(Template)]
#[template(path = "agent.html")]
struct AgentPage {
    chrome: Chrome,
    agent: AgentView,
    tab: &'static str,
    tabs: &'static [(&'static str, &'static str)],
    notice: Option<String>,
    message: Option<String>,
    errors: Vec<FieldError>,
    instructions: String,
    tools: Vec<(&'static str, &'static str, bool)>,
    roles: &'static [Role],
    conversations: Vec<ConversationView>,
    conversation: Option<String>,
    messages: Vec<MessageView>,
    approvals: Vec<app::approvals::ApprovalView>,
    needs: Vec<agents::Need>,
}

impl AgentPage {
    fn has_error(&self, field: &str) -> bool {
        self.errors
            .iter()
            .any(|e| e.field == field || e.field.starts_with(&format!("{field}[")))
    }
}

/// Which tab, and whether the last save worked.
#[derive(Deserialize)]
pub struct ShowQuery {
    tab: Option<String>,
    saved: Option<String>,
    conversation: Option<String>,
}

fn tab_of(raw: Option<&str>) -> &'static str {
    TABS.iter()
        .map(|(t, _)| *t)
        .find(|t| Some(*t) == raw)
        .unwrap_or("chat")
}

fn agent_page(user: &SignedIn, csrf: &Csrf, agent: AgentView, tab: &'static str) -> AgentPage {
    let tools = ai::tools::all()
        .iter()
        .map(|t| {
            (
                t.spec.name.as_str(),
                t.spec.description.as_str(),
                agent.config.tools.contains(&t.spec.name),
            )
        })
        .collect();
    AgentPage {
        chrome: Chrome::new(&agent.name, &csrf.0, Some(user.profile.clone()), "agents"),
        instructions: agent.config.instructions.join("\n"),
        agent,
        tab,
        tabs: &TABS,
        notice: None,
        message: None,
        errors: Vec::new(),
        tools,
        roles: &ROLES,
        conversations: Vec::new(),
        conversation: None,
        messages: Vec::new(),
        approvals: Vec::new(),
        needs: Vec::new(),
    }
}

/// `GET /ai-agents/{id}`.
pub async fn show(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let agent = agents::get(&state, &user.principal, &id)
        .await
        .map_err(not_found_for_bad_ids)?;
    let mut p = agent_page(&user, &csrf, agent, tab_of(q.tab.as_deref()));
    if p.tab == "apis" {
        p.needs = agents::needs(&state, &user.principal, &id).await?;
    }
    if p.tab == "chat" {
        fill_chat(&state, &user, &mut p, q.conversation.as_deref()).await?;
    }
    p.notice = match q.saved.as_deref() {
        Some("created") => Some("Agent created from its template.".into()),
        Some(_) => Some("Saved.".into()),
        None => None,
    };
    Ok(page(StatusCode::OK, &p))
}

/// An id that is not a UUID names no agent: a page, not a form error.
fn not_found_for_bad_ids(e: app::AppError) -> PageError {
    match e {
        app::AppError::Validation { .. } => PageError::NotFound,
        e => e.into(),
    }
}

/// Applies one tab's fields to the configuration; the fields of other
/// tabs are not in the form and stay as they are.
fn apply(tab: &str, f: &HashMap<String, String>, c: &mut AgentConfig) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let text = |name: &str| f.get(name).map(String::as_str).unwrap_or_default();
    match tab {
        "prompt" => c.system_prompt = text("system_prompt").replace("\r\n", "\n"),
        "fine-tuning" => {
            c.instructions = text("instructions")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        }
        "llm" => {
            c.provider = text("provider").trim().to_string();
            c.model = text("model").trim().to_string();
            match text("temperature").trim().parse() {
                Ok(t) => c.temperature = t,
                Err(_) => errors.push(FieldError::new(
                    "temperature",
                    "must be a number between 0 and 2",
                )),
            }
            match text("max_tokens").trim().parse() {
                Ok(n) => c.max_tokens = n,
                Err(_) => errors.push(FieldError::new("max_tokens", "must be a whole number")),
            }
        }
        "tools" => {
            c.tools = ai::tools::all()
                .iter()
                .filter(|t| f.contains_key(&format!("tool_{}", t.spec.name)))
                .map(|t| t.spec.name.clone())
                .collect();
            c.run_without_approval = f.contains_key("run_without_approval");
        }
        "permissions" => {
            for (field, slot) in [
                ("chat", &mut c.permissions.chat),
                ("edit", &mut c.permissions.edit),
            ] {
                match text(field).parse::<Role>() {
                    Ok(r) => *slot = r,
                    Err(_) => errors.push(FieldError::new(
                        format!("permissions.{field}"),
                        "choose a role",
                    )),
                }
            }
        }
        _ => {}
    }
    errors
}

/// `POST /ai-agents/{id}`: saves the fields of one tab.
pub async fn save(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    Path(id): Path<String>,
    CheckedForm(f): CheckedForm<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let tab = tab_of(f.get("tab").map(String::as_str));
    let who = &user.principal;
    let agent = agents::get(&state, who, &id)
        .await
        .map_err(not_found_for_bad_ids)?;
    let saved = if tab == "basic" {
        let body = UpdateAgent {
            name: f.get("name").cloned(),
            description: f.get("description").cloned(),
        };
        agents::update(&state, who, origin, &id, body)
            .await
            .map(drop)
    } else {
        let mut config = agent.config.clone();
        let errors = apply(tab, &f, &mut config);
        match app::AppError::collect(errors) {
            Ok(()) => agents::set_config(&state, who, origin, &id, config)
                .await
                .map(drop),
            Err(e) => Err(e),
        }
    };
    match saved {
        Ok(()) => Ok(Redirect::to(&format!("/ai-agents/{id}?tab={tab}&saved=1")).into_response()),
        Err(e) => {
            let problem = inline_problem(e)?;
            let mut p = agent_page(&user, &csrf, agent, tab);
            p.message = Some(format!("Not saved: {}", problem.detail));
            p.errors = problem.errors;
            Ok(page(crate::render::status_of(problem.status), &p))
        }
    }
}

/// `POST /ai-agents/{id}/delete`.
pub async fn delete(
    State(state): State<App>,
    user: SignedIn,
    Origin(origin): Origin,
    Path(id): Path<String>,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    agents::delete(&state, &user.principal, origin, &id)
        .await
        .map_err(not_found_for_bad_ids)?;
    Ok(Redirect::to("/ai-agents").into_response())
}

/// The member's conversations with this agent, and the one open.
async fn fill_chat(
    state: &App,
    user: &SignedIn,
    p: &mut AgentPage,
    open: Option<&str>,
) -> Result<(), PageError> {
    let all = chat::list(state, &user.principal, PageParams::largest()).await?;
    p.conversations = all
        .items
        .into_iter()
        .filter(|c| c.agent_id == p.agent.id)
        .collect();
    if let Some(id) = open {
        let detail = chat::get(state, &user.principal, id)
            .await
            .map_err(not_found_for_bad_ids)?;
        p.conversation = Some(id.to_string());
        p.messages = detail.messages;
        p.approvals = detail
            .approvals
            .into_iter()
            .filter(|a| a.status == "pending")
            .collect();
    }
    Ok(())
}

/// The chat form.
#[derive(Deserialize)]
pub struct ChatForm {
    message: String,
    #[serde(default)]
    conversation_id: String,
}

/// `POST /ai-agents/{id}/chat`: with `Accept: text/event-stream` (the
/// page's script) the answer streams as events; otherwise the page comes
/// back with the whole answer in its conversation.
pub async fn send(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    headers: HeaderMap,
    Path(id): Path<String>,
    CheckedForm(f): CheckedForm<ChatForm>,
) -> Result<Response, PageError> {
    let input = ChatInput {
        message: f.message,
        conversation_id: Some(f.conversation_id).filter(|c| !c.is_empty()),
    };
    let streaming = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let prepared = match chat::prepare(&state, &user.principal, &id, input).await {
        Ok(p) => p,
        Err(e) => {
            let problem = inline_problem(e)?;
            if streaming {
                let detail = problem.detail;
                return Ok((crate::render::status_of(problem.status), detail).into_response());
            }
            let agent = agents::get(&state, &user.principal, &id)
                .await
                .map_err(not_found_for_bad_ids)?;
            let mut p = agent_page(&user, &csrf, agent, "chat");
            fill_chat(&state, &user, &mut p, None).await?;
            p.message = Some(format!("Not sent: {}", problem.detail));
            return Ok(page(crate::render::status_of(problem.status), &p));
        }
    };
    let conversation = prepared.conversation_id();
    if !streaming {
        let (tx, mut rx) = mpsc::channel(1024);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let outcome = chat::run(prepared, tx).await;
        let _ = drain.await;
        let to = format!("/ai-agents/{id}?tab=chat&conversation={conversation}");
        return match outcome {
            Ok(_) => Ok(Redirect::to(&to).into_response()),
            Err(e) => {
                let problem = inline_problem(e)?;
                let agent = agents::get(&state, &user.principal, &id).await?;
                let mut p = agent_page(&user, &csrf, agent, "chat");
                fill_chat(&state, &user, &mut p, Some(&conversation.to_string())).await?;
                p.message = Some(format!("The answer stopped: {}", problem.detail));
                Ok(page(crate::render::status_of(problem.status), &p))
            }
        };
    }
    Ok(stream(prepared))
}

/// The answer as the page's script reads it: one event per [`ChatEvent`].
fn stream(prepared: chat::Prepared) -> Response {
    let (tx, rx) = mpsc::channel(64);
    let last = tx.clone();
    tokio::spawn(async move {
        if let Err(e) = chat::run(prepared, tx).await {
            let (status, detail) = match inline_problem(e) {
                Ok(r) => (r.status, r.detail),
                Err(_) => (500, "the answer failed".into()),
            };
            let _ = last.send(ChatEvent::Failed { status, detail }).await;
        }
    });
    let events = futures::stream::unfold(rx, |mut rx| async move {
        let ev = rx.recv().await?;
        let event = Event::default()
            .json_data(&ev)
            .unwrap_or_else(|_| Event::default().data("{}"));
        Some((Ok::<_, Infallible>(event), rx))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// A decision on a tool call that waits.
#[derive(Deserialize)]
pub struct DecisionForm {
    conversation_id: String,
    decision: String,
}

/// `POST /ai-agents/{id}/approvals/{approval_id}`: approves or rejects a
/// waiting tool call; the agent carries on, streamed to the page's script
/// (or, without it, the page comes back with the conversation).
pub async fn decide(
    State(state): State<App>,
    user: SignedIn,
    headers: HeaderMap,
    Path((id, approval)): Path<(String, String)>,
    CheckedForm(f): CheckedForm<DecisionForm>,
) -> Result<Response, PageError> {
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(PageError::Refused(
                StatusCode::BAD_REQUEST,
                "the decision is approve or reject".into(),
            ))
        }
    };
    let streaming = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let decided = approvals::decide(
        &state,
        &user.principal,
        &f.conversation_id,
        &approval,
        approve,
    )
    .await;
    let to = format!(
        "/ai-agents/{id}?tab=chat&conversation={}",
        f.conversation_id
    );
    match decided {
        Ok(Decided::Resume(p)) if streaming => Ok(stream(*p)),
        Ok(Decided::Resume(p)) => {
            // Whatever the agent says next is kept in the conversation.
            let _ = chat::run_whole(*p).await;
            Ok(Redirect::to(&to).into_response())
        }
        Ok(Decided::Waiting(_)) if streaming => {
            Ok((StatusCode::OK, "other calls still wait for a decision").into_response())
        }
        Ok(Decided::Waiting(_)) => Ok(Redirect::to(&to).into_response()),
        Err(e) => {
            let problem = inline_problem(e)?;
            Ok((crate::render::status_of(problem.status), problem.detail).into_response())
        }
    }
}
