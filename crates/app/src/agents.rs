//! AI agents (the plan's §2.2): the tenant's agents, made from the
//! catalogue's templates or from scratch, and their configuration. The
//! seven core agents are seeded on a tenant's first visit to its agents.
//!
//! Who may do what: anyone in the tenant sees the agents; admins create and
//! delete them; changing one needs write access and the least role the
//! agent's own `permissions.edit` names (admin unless changed).

use crate::idempotency::Created;
use crate::input::{paging, parse_id, PageParams};
use crate::{access, App, AppError};
use ai::catalog::{self, Template};
use chrono::{DateTime, Utc};
use domain::agents::{AgentConfig, AgentPermissions};
use domain::audit::{NewAuditEntry, RequestOrigin};
use domain::roles::Role;
use domain::tokens::Scope;
use domain::validation::DisplayName;
use domain::{AgentId, Principal};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::agents::{self as repo, Agent};
use store::{audit, StoreError, TenantTx};

/// The provider and model a new agent uses until someone picks others.
pub const DEFAULT_PROVIDER: &str = "openai";
/// See [`DEFAULT_PROVIDER`].
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
const DEFAULT_MAX_TOKENS: u32 = 1024;

/// An agent as shown.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentView {
    /// Id.
    pub id: AgentId,
    /// Name, unique in the tenant.
    pub name: String,
    /// What it does.
    pub description: String,
    /// The catalogue template it was made from.
    pub template: Option<String>,
    /// Its configuration.
    pub config: AgentConfig,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

impl From<Agent> for AgentView {
    fn from(a: Agent) -> Self {
        Self {
            id: a.id,
            name: a.name,
            description: a.description,
            template: a.template,
            config: a.config,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// A page of agents.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentPage {
    /// Agents, newest first.
    pub items: Vec<AgentView>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// The catalogue.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    /// Templates, by business function.
    pub items: Vec<Template>,
}

/// A new agent: from a template, from scratch, or a template changed.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    /// The catalogue template to start from.
    pub template: Option<String>,
    /// Name, 1 to 100 characters (the template's if absent).
    pub name: Option<String>,
    /// What it does (the template's if absent).
    pub description: Option<String>,
    /// The whole configuration (the template's, with the default provider
    /// and model, if absent).
    pub config: Option<AgentConfig>,
}

/// Changes to an agent's name or description.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

fn config_of(t: &Template) -> AgentConfig {
    AgentConfig {
        system_prompt: t.system_prompt.clone(),
        instructions: Vec::new(),
        temperature: t.temperature,
        max_tokens: DEFAULT_MAX_TOKENS,
        provider: DEFAULT_PROVIDER.into(),
        model: DEFAULT_MODEL.into(),
        tools: t.tools.clone(),
        run_without_approval: false,
        permissions: AgentPermissions::default(),
        knowledge_bases: Vec::new(),
    }
}

fn new_agent(t: &Template, now: DateTime<Utc>) -> Agent {
    Agent {
        id: AgentId::new(),
        tenant_id: domain::TenantId::default(),
        name: t.name.clone(),
        template: Some(t.id.clone()),
        description: t.description.clone(),
        config: config_of(t),
        created_at: now,
        updated_at: now,
    }
}

fn check_config(config: &AgentConfig) -> Result<(), AppError> {
    AppError::collect(config.problems(|t| ai::tools::find(t).is_some()))
}

/// A model the provider does not list is refused, when the tenant has a
/// key to ask with and the provider answers in time; otherwise the model
/// is taken as given (a provider that is down must not block an edit).
async fn check_model(
    state: &App,
    scope: &domain::TenantScope,
    config: &AgentConfig,
) -> Result<(), AppError> {
    let Ok(Some(model)) = crate::chat::model_for_service(state, scope, &config.provider).await
    else {
        return Ok(());
    };
    let listed = tokio::time::timeout(std::time::Duration::from_secs(5), model.models()).await;
    let Ok(Ok(models)) = listed else {
        return Ok(());
    };
    if models.is_empty() || models.contains(&config.model) {
        return Ok(());
    }
    let mut offered: Vec<&str> = models.iter().map(String::as_str).take(8).collect();
    if models.len() > 8 {
        offered.push("…");
    }
    Err(AppError::field(
        "model",
        format!(
            "`{}` is not a model `{}` offers to this key; it offers {}",
            config.model,
            config.provider,
            offered.join(", ")
        ),
    ))
}

fn check_description(raw: &str) -> Result<String, AppError> {
    let d = raw.trim();
    if d.chars().count() > 500 || d.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::field(
            "description",
            "must be at most 500 characters, without control characters",
        ));
    }
    Ok(d.to_string())
}

fn taken(name: &str) -> AppError {
    AppError::Conflict(format!(
        "an agent named `{name}` exists already; choose another name"
    ))
}

fn not_found() -> AppError {
    AppError::NotFound("no such agent in this workspace".into())
}

async fn load(tx: &mut TenantTx, id: AgentId) -> Result<Agent, AppError> {
    repo::get(tx, id).await.map_err(|e| match e {
        StoreError::NotFound => not_found(),
        e => e.into(),
    })
}

/// Refuses a caller below the agent's own least role for changes.
/// The role an agent's permissions compare the caller with: a member's
/// own, or for a tenant token (which has none) the role its widest scope
/// matches: `admin` an admin, `write` a member, `read` a viewer.
pub(crate) fn standing(who: &Principal) -> Option<Role> {
    who.role().or_else(|| {
        [
            (Scope::Admin, Role::Admin),
            (Scope::Write, Role::Member),
            (Scope::Read, Role::Viewer),
        ]
        .into_iter()
        .find(|(scope, _)| who.has_scope(*scope))
        .map(|(_, role)| role)
    })
}

fn may_edit(who: &Principal, agent: &Agent) -> Result<(), AppError> {
    let least = agent.config.permissions.edit;
    if standing(who).is_some_and(|role| role >= least) {
        return Ok(());
    }
    Err(AppError::Forbidden(format!(
        "changing this agent needs the `{least}` role (its permissions say so)"
    )))
}

/// Seeds the seven core agents the first time a tenant's agents are asked
/// for; a core agent deleted later stays deleted.
async fn ensure_seeded(state: &App, who: &Principal) -> Result<(), AppError> {
    let scope = who.scope();
    let mut tx = state.store.read(&scope).await?;
    let seeded = repo::seeded(&mut tx).await?;
    tx.commit().await?;
    if seeded {
        return Ok(());
    }
    let mut tx = state.store.write(&scope).await?;
    let now = Utc::now();
    if repo::mark_seeded(&mut tx, now).await? {
        for t in catalog::core() {
            match repo::insert(&mut tx, &new_agent(t, now)).await {
                // A tenant that already made an agent of that name keeps it.
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        audit::record(
            &mut tx,
            NewAuditEntry::new(
                "agent.core_seeded",
                "tenant",
                Some(scope.tenant().to_string()),
            )
            .with_metadata(
                json!({ "templates": catalog::core().map(|t| &t.id).collect::<Vec<_>>() }),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The catalogue of templates.
pub fn templates(who: &Principal) -> Result<TemplateList, AppError> {
    access::require(who, Scope::Read)?;
    Ok(TemplateList {
        items: catalog::templates().to_vec(),
    })
}

/// The tenant's agents, newest first.
pub async fn list(state: &App, who: &Principal, q: PageParams) -> Result<AgentPage, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let (limit, cursor) = paging(q.limit, q.cursor.as_deref())?;
    ensure_seeded(state, who).await?;
    let mut tx = state.store.read(&scope).await?;
    let page = repo::list(&mut tx, cursor, limit).await?;
    tx.commit().await?;
    Ok(AgentPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    })
}

/// One agent.
pub async fn get(state: &App, who: &Principal, id: &str) -> Result<AgentView, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let id: AgentId = parse_id(id, "id")?;
    let mut tx = state.store.read(&scope).await?;
    let agent = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(agent.into())
}

/// Creates an agent (admin), audited.
pub async fn create(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    body: CreateAgent,
) -> Result<Created<AgentView>, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let template = match &body.template {
        Some(id) => Some(catalog::template(id).ok_or_else(|| {
            AppError::field(
                "template",
                format!("there is no template `{id}`; GET /api/v1/agent-templates lists them"),
            )
        })?),
        None => None,
    };
    let (name, description, config) = match template {
        Some(t) => (
            body.name.unwrap_or_else(|| t.name.clone()),
            body.description.unwrap_or_else(|| t.description.clone()),
            body.config.unwrap_or_else(|| config_of(t)),
        ),
        None => {
            let mut missing = Vec::new();
            if body.name.is_none() {
                missing.push(domain::validation::FieldError::new(
                    "name",
                    "is required without a template",
                ));
            }
            if body.config.is_none() {
                missing.push(domain::validation::FieldError::new(
                    "config",
                    "is required without a template",
                ));
            }
            AppError::collect(missing)?;
            (
                body.name.unwrap_or_default(),
                body.description.unwrap_or_default(),
                body.config.expect("checked above"),
            )
        }
    };
    let name = DisplayName::parse(&name).map_err(|m| AppError::field("name", m))?;
    let description = check_description(&description)?;
    check_config(&config)?;
    check_model(state, &scope, &config).await?;
    let now = Utc::now();
    let agent = Agent {
        id: AgentId::new(),
        tenant_id: scope.tenant(),
        name: name.as_str().to_string(),
        template: template.map(|t| t.id.clone()),
        description,
        config,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.store.write(&scope).await?;
    repo::insert(&mut tx, &agent).await.map_err(|e| match e {
        StoreError::Conflict(_) => taken(&agent.name),
        e => e.into(),
    })?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("agent.created", "agent", Some(agent.id.to_string()))
            .with_metadata(json!({ "name": agent.name, "template": agent.template }))
            .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(Created::new(agent.into()))
}

/// Renames an agent or changes its description, audited.
pub async fn update(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    id: &str,
    body: UpdateAgent,
) -> Result<AgentView, AppError> {
    let scope = access::require(who, Scope::Write)?;
    let id: AgentId = parse_id(id, "id")?;
    let name = body
        .name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()
        .map_err(|m| AppError::field("name", m))?;
    let description = body
        .description
        .as_deref()
        .map(check_description)
        .transpose()?;
    let mut tx = state.store.write(&scope).await?;
    let mut agent = load(&mut tx, id).await?;
    may_edit(who, &agent)?;
    let before = json!({ "name": agent.name, "description": agent.description });
    if let Some(n) = name {
        agent.name = n.as_str().to_string();
    }
    if let Some(d) = description {
        agent.description = d;
    }
    agent.updated_at = Utc::now();
    repo::update(&mut tx, &agent).await.map_err(|e| match e {
        StoreError::Conflict(_) => taken(&agent.name),
        e => e.into(),
    })?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("agent.updated", "agent", Some(id.to_string()))
            .with_metadata(json!({
                "before": before,
                "after": { "name": agent.name, "description": agent.description },
            }))
            .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(agent.into())
}

/// Deletes an agent (admin), audited.
pub async fn delete(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    id: &str,
) -> Result<AgentView, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let id: AgentId = parse_id(id, "id")?;
    let mut tx = state.store.write(&scope).await?;
    let agent = load(&mut tx, id).await?;
    repo::delete(&mut tx, id).await?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("agent.deleted", "agent", Some(id.to_string()))
            .with_metadata(json!({ "name": agent.name }))
            .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(agent.into())
}

/// An agent's configuration.
pub async fn config(state: &App, who: &Principal, id: &str) -> Result<AgentConfig, AppError> {
    Ok(get(state, who, id).await?.config)
}

/// Replaces an agent's configuration after validating it whole; the
/// audit entry keeps the configuration before and after.
pub async fn set_config(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    id: &str,
    config: AgentConfig,
) -> Result<AgentConfig, AppError> {
    let scope = access::require(who, Scope::Write)?;
    let id: AgentId = parse_id(id, "id")?;
    check_config(&config)?;
    check_model(state, &scope, &config).await?;
    let mut tx = state.store.write(&scope).await?;
    let mut agent = load(&mut tx, id).await?;
    may_edit(who, &agent)?;
    // Nobody hands an agent to a role above their own, nor locks
    // themselves out of it.
    if let Some(role) = who.role() {
        if config.permissions.edit > role {
            return Err(AppError::field(
                "permissions.edit",
                format!("cannot be above your own role (`{role}`)"),
            ));
        }
    }
    let before =
        serde_json::to_value(&agent.config).map_err(|e| AppError::Internal(e.to_string()))?;
    agent.config = config;
    agent.updated_at = Utc::now();
    repo::update(&mut tx, &agent).await?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("agent.config_updated", "agent", Some(id.to_string()))
            .with_metadata(json!({ "before": before, "after": agent.config }))
            .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(agent.config)
}

/// Something an agent needs from outside it to work, and whether the
/// workspace has it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Need {
    /// What kind: `model` or `tool`.
    pub kind: String,
    /// What it is (a provider service, a tool).
    pub name: String,
    /// Whether it is there.
    pub present: bool,
    /// What it is used for, or where to add it.
    pub detail: String,
}

/// The keys (and, as connector actions arrive, the connectors) the
/// agent's configuration needs, each with whether the workspace has it.
/// Anyone who may read the agent may see this; no secret is shown.
pub async fn needs(state: &App, who: &Principal, id: &str) -> Result<Vec<Need>, AppError> {
    let agent = get(state, who, id).await?;
    let scope = access::require(who, Scope::Read)?;
    let service = agent.config.provider.clone();
    let mut out = Vec::new();
    if service == crate::chat::LOCAL_SERVICE {
        let running = state.models.local().is_some();
        out.push(Need {
            kind: "model".into(),
            name: service,
            present: running,
            detail: if running {
                "the platform's own model; it needs no key".into()
            } else {
                "this platform runs no local model (ai.local_url); pick another provider".into()
            },
        });
    } else {
        let mut tx = state.store.read(&scope).await?;
        let key = store::api_keys::find(&mut tx, &service).await?;
        tx.commit().await?;
        out.push(Need {
            kind: "model".into(),
            present: key.is_some(),
            detail: match key {
                Some(k) => format!("the workspace's `{service}` key, ending {}", k.key_hint),
                None => format!("no `{service}` key yet: add one at /ai-agents/byok"),
            },
            name: service,
        });
    }
    for tool in &agent.config.tools {
        let detail = match tool.as_str() {
            "send_email" => "sends through the platform's outgoing mail; each email waits for approval unless the agent may act without asking",
            "audit_log_search" => "reads the workspace's audit log as the member chatting may",
            _ => "built in; needs nothing",
        };
        out.push(Need {
            kind: "tool".into(),
            name: tool.clone(),
            present: true,
            detail: detail.into(),
        });
    }
    Ok(out)
}
