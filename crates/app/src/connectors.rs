//! Connections to connectors, their syncs, and their data with
//! write-through changes (DESIGN.md §9).
//!
//! A connection's secret fields live only in the secret store, at
//! `tenants/{tenant}/connections/{id}`; the database keeps the path, the
//! non-secret fields, its state and how its syncs went. Connecting checks
//! the fields with a live call first. A change to a record goes to the
//! provider first and then to the local copy, and is audited.

use crate::keys::{previous_secret, restore};
use crate::{access, App, AppError};
use chrono::{DateTime, Utc};
use connectors::{Connector, ConnectorError, FieldKind, Spec};
use domain::audit::{NewAuditEntry, RequestOrigin};
use domain::secrets::{Secret, SecretPath};
use domain::tokens::Scope;
use domain::validation::FieldError;
use domain::workflows::{StartRun, Started};
use domain::{Principal, TenantScope};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use store::connections::{self, Connection, ConnectionStatus};
use store::synced::{self, NewRecord, Query, Sort, SyncedRecord};
use uuid::Uuid;
use workflows::builtin::connector_sync::{SyncInput, SYNC};

/// How long a call to a provider may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The connectors and their shared HTTP machinery: calls go only where the
/// outbound policy allows (private addresses only when `allow_private`).
pub fn registry(allow_private: bool) -> connectors::Registry {
    let out = outbound::Outbound::new(
        outbound::Policy {
            allow_private,
            ..Default::default()
        },
        CALL_TIMEOUT,
    );
    connectors::Registry::builtin(connectors::http::Http::new(out, Default::default()))
}

/// A connector and the tenant's connection to it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConnectorView {
    /// Id (`wordpress`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Business area (`cms`, `crm`, `ecommerce`, …).
    pub category: String,
    /// What it connects.
    pub description: String,
    /// How to connect it: `{"kind": "fields", "fields": [{name, label, kind, secret, help}]}`.
    #[schema(value_type = Object)]
    pub auth: Value,
    /// Its resources, with the records stored of each.
    pub resources: Vec<ResourceView>,
    /// The tenant's connection, if it made one.
    pub connection: Option<ConnectionView>,
}

/// A resource of a connector.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResourceView {
    /// Name in URLs (`posts`).
    pub name: String,
    /// Display name.
    pub label: String,
    /// Records can be created through the platform.
    pub create: bool,
    /// Records can be changed.
    pub update: bool,
    /// Records can be deleted.
    pub delete: bool,
    /// Syncs can fetch only what changed.
    pub incremental: bool,
    /// Live records stored.
    pub records: i64,
}

/// A tenant's connection: never its secret fields.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    /// Id.
    pub id: Uuid,
    /// `connected`, or `needs_reconnect` after the provider refused its credentials.
    pub status: String,
    /// Its non-secret fields (a site URL, a user name).
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// When a sync last succeeded.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// How the last sync went: `running`, `succeeded` or `failed`.
    pub sync_status: Option<String>,
    /// The last error, if the last sync or call failed.
    pub last_error: Option<String>,
    /// Minutes between scheduled incremental syncs, if scheduled.
    pub sync_interval_minutes: Option<i32>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<Connection> for ConnectionView {
    fn from(c: Connection) -> Self {
        Self {
            id: c.id,
            status: c.status.as_str().into(),
            settings: c.settings,
            last_sync_at: c.last_sync_at,
            sync_status: c.sync_status,
            last_error: c.last_error,
            sync_interval_minutes: c.sync_interval_minutes,
            created_at: c.created_at,
        }
    }
}

fn view(
    spec: &Spec,
    connection: Option<Connection>,
    counts: &[(Uuid, String, i64)],
) -> ConnectorView {
    let id = connection.as_ref().map(|c| c.id);
    ConnectorView {
        id: spec.id.into(),
        name: spec.name.into(),
        category: serde_json::to_value(spec.category)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        description: spec.description.into(),
        auth: serde_json::to_value(&spec.auth).unwrap_or(Value::Null),
        resources: spec
            .resources
            .iter()
            .map(|r| ResourceView {
                name: r.name.into(),
                label: r.label.into(),
                create: r.writes.create,
                update: r.writes.update,
                delete: r.writes.delete,
                incremental: r.incremental,
                records: counts
                    .iter()
                    .find(|(c, res, _)| Some(*c) == id && res == r.name)
                    .map_or(0, |(_, _, n)| *n),
            })
            .collect(),
        connection: connection.map(ConnectionView::from),
    }
}

/// Every connector with the tenant's connection to it.
pub async fn list(state: &App, who: &Principal) -> Result<Vec<ConnectorView>, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let mut tx = state.store.read(&scope).await?;
    let made = connections::list(&mut tx).await?;
    let counts = synced::counts(&mut tx).await?;
    tx.commit().await?;
    Ok(state
        .connectors
        .specs()
        .map(|spec| {
            let c = made.iter().find(|c| c.connector == spec.id).cloned();
            view(spec, c, &counts)
        })
        .collect())
}

/// One connector with the tenant's connection to it.
pub async fn show(state: &App, who: &Principal, id: &str) -> Result<ConnectorView, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let spec = spec_of(state, id)?;
    let mut tx = state.store.read(&scope).await?;
    let c = connections::of_connector(&mut tx, id).await?;
    let counts = synced::counts(&mut tx).await?;
    tx.commit().await?;
    Ok(view(spec, c, &counts))
}

fn connector_of(state: &App, id: &str) -> Result<Arc<dyn Connector>, AppError> {
    state
        .connectors
        .get(id)
        .cloned()
        .ok_or_else(|| AppError::NotFound(format!("no connector `{id}`")))
}

fn spec_of(state: &App, id: &str) -> Result<&'static Spec, AppError> {
    Ok(connector_of(state, id)?.spec())
}

/// The fields given, checked against the connector's: every one present,
/// text, well-formed; none unknown. Secret ones go apart.
fn split_fields(
    state: &App,
    spec: &Spec,
    mut given: Map<String, Value>,
) -> Result<(Map<String, Value>, Secret), AppError> {
    let connectors::AuthKind::Fields { fields } = &spec.auth;
    let mut errors = Vec::new();
    let (mut settings, mut secret) = (Map::new(), Secret::default());
    for f in fields.iter() {
        let value = match given.remove(f.name) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::String(_)) | None => {
                errors.push(FieldError::new(f.name, format!("{} is required", f.label)));
                continue;
            }
            Some(_) => {
                errors.push(FieldError::new(f.name, "must be a string"));
                continue;
            }
        };
        if value.len() > 2048 {
            errors.push(FieldError::new(f.name, "at most 2048 characters"));
            continue;
        }
        if f.kind == FieldKind::Url {
            match check_url(state, &value) {
                Ok(url) => {
                    settings.insert(f.name.into(), json!(url));
                }
                Err(m) => errors.push(FieldError::new(f.name, m)),
            }
            continue;
        }
        if f.secret {
            secret.insert(f.name, value.into());
        } else {
            settings.insert(f.name.into(), json!(value));
        }
    }
    for unknown in given.keys() {
        errors.push(FieldError::new(
            unknown.as_str(),
            format!("{} takes no such field", spec.name),
        ));
    }
    AppError::collect(errors)?;
    Ok((settings, secret))
}

/// An http(s) URL with a host and no credentials, as the outbound policy
/// allows, without a trailing slash.
fn check_url(state: &App, raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with http:// or https://".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password; use the fields for them".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    state
        .connectors
        .policy()
        .check_url(&url)
        .map_err(|e| e.to_string())?;
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Connects a connector (admins): the fields are checked with a live call,
/// the secret ones stored in the secret store, the rest with the
/// connection. Connecting again replaces the fields and clears a
/// "needs reconnect".
pub async fn connect(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    id: &str,
    fields: Map<String, Value>,
) -> Result<ConnectorView, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let connector = connector_of(state, id)?;
    let spec = connector.spec();
    let (settings, secret) = split_fields(state, spec, fields)?;
    let existing = {
        let mut tx = state.store.read(&scope).await?;
        let c = connections::of_connector(&mut tx, id).await?;
        tx.commit().await?;
        c
    };
    let conn_id = existing.as_ref().map_or_else(Uuid::now_v7, |c| c.id);
    let open = state
        .connectors
        .open(conn_id, settings.clone(), secret.clone());
    let who_at = connector
        .verify(&open)
        .await
        .map_err(|e| verify_error(spec, e))?;
    let path = SecretPath::connection(scope.tenant(), conn_id);
    let previous = previous_secret(state, &path).await?;
    state.secrets.put(&path, &secret).await?;
    let now = Utc::now();
    let saved = async {
        let mut tx = state.store.write(&scope).await?;
        let action = match &existing {
            Some(_) => {
                connections::reconnect(&mut tx, conn_id, &settings, now).await?;
                "connector.reconnect"
            }
            None => {
                connections::insert(
                    &mut tx,
                    &Connection::new(
                        conn_id,
                        scope.tenant(),
                        id,
                        path.as_str(),
                        settings.clone(),
                        now,
                    ),
                )
                .await?;
                "connector.connect"
            }
        };
        store::audit::record(
            &mut tx,
            NewAuditEntry::new(action, "connection", Some(conn_id.to_string()))
                .with_metadata(
                    json!({ "connector": id, "settings": settings, "verified_as": who_at }),
                )
                .from_origin(origin),
        )
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = saved {
        restore(state, &path, previous).await;
        return Err(e.into());
    }
    show(state, who, id).await
}

/// What a failed live check means for the fields.
fn verify_error(spec: &Spec, e: ConnectorError) -> AppError {
    let connectors::AuthKind::Fields { fields } = &spec.auth;
    let secret_field = fields
        .iter()
        .find(|f| f.secret)
        .map_or("fields", |f| f.name);
    let url_field = fields
        .iter()
        .find(|f| f.kind == FieldKind::Url)
        .map_or("fields", |f| f.name);
    match e {
        ConnectorError::Unauthorized { .. } | ConnectorError::Forbidden { .. } => {
            AppError::field(secret_field, e.to_string())
        }
        ConnectorError::Refused(_)
        | ConnectorError::BadRequest(_)
        | ConnectorError::NotFound { .. } => AppError::field(url_field, e.to_string()),
        ConnectorError::Unreachable { .. } => AppError::field(
            url_field,
            format!("{e}; check the address, nothing was saved"),
        ),
        other => call_error(other),
    }
}

/// Disconnects a connector (admins): its credentials are destroyed in the
/// secret store, its scheduled syncs stopped, its local copy deleted.
pub async fn disconnect(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    id: &str,
) -> Result<(), AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let spec = spec_of(state, id)?;
    let conn = connection_of(state, &scope, id).await?;
    for r in spec.resources {
        state
            .workflows
            .unschedule(Some(scope.tenant()), &schedule_name(conn.id, r.name))
            .await?;
    }
    let path = SecretPath::parse(scope.tenant(), &conn.vault_path).map_err(AppError::Internal)?;
    let previous = previous_secret(state, &path).await?;
    state.secrets.delete(&path).await?;
    let removed = async {
        let mut tx = state.store.write(&scope).await?;
        connections::delete(&mut tx, conn.id).await?;
        store::audit::record(
            &mut tx,
            NewAuditEntry::new(
                "connector.disconnect",
                "connection",
                Some(conn.id.to_string()),
            )
            .with_metadata(json!({ "connector": id }))
            .from_origin(origin),
        )
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = removed {
        restore(state, &path, previous).await;
        return Err(e.into());
    }
    state.connectors.close(conn.id);
    Ok(())
}

async fn connection_of(state: &App, scope: &TenantScope, id: &str) -> Result<Connection, AppError> {
    let mut tx = state.store.read(scope).await?;
    let c = connections::of_connector(&mut tx, id).await?;
    tx.commit().await?;
    c.ok_or_else(|| {
        AppError::NotFound(format!(
            "`{id}` is not connected; connect it at /dashboard/connectors/{id}"
        ))
    })
}

fn resource_of(
    spec: &'static Spec,
    resource: &str,
) -> Result<&'static connectors::ResourceSpec, AppError> {
    spec.resource(resource).ok_or_else(|| {
        AppError::NotFound(format!(
            "{} has no resource `{resource}`; it has {}",
            spec.name,
            spec.resources
                .iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// How to sync.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncRequest {
    /// Everything, finding deletions (default: what changed since the last sync).
    pub full: Option<bool>,
}

/// Starts a sync of one resource (members) as a workflow run.
pub async fn sync(
    state: &App,
    who: &Principal,
    id: &str,
    resource: &str,
    key: Option<String>,
    req: SyncRequest,
) -> Result<Started, AppError> {
    let scope = access::require(who, Scope::Write)?;
    let spec = spec_of(state, id)?;
    resource_of(spec, resource)?;
    let conn = connection_of(state, &scope, id).await?;
    if conn.status == ConnectionStatus::NeedsReconnect {
        return Err(needs_reconnect(spec));
    }
    Ok(state
        .workflows
        .start(StartRun {
            tenant: Some(scope.tenant()),
            requested_by: Some(scope),
            workflow_type: SYNC.into(),
            input: serde_json::to_value(SyncInput {
                connection_id: conn.id,
                resource: resource.into(),
                full: req.full.unwrap_or(false),
            })
            .map_err(|e| AppError::Internal(e.to_string()))?,
            dedup_key: key,
        })
        .await?)
}

fn schedule_name(connection: Uuid, resource: &str) -> String {
    format!("connector.sync.{connection}.{resource}")
}

/// A connection's sync schedule.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Minutes between incremental syncs of every resource, 5 to 10080
    /// (a week); `null` stops them.
    pub interval_minutes: Option<i32>,
}

/// Sets how often every resource of a connection is synced (admins).
pub async fn set_schedule(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    id: &str,
    schedule: Schedule,
) -> Result<ConnectorView, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let spec = spec_of(state, id)?;
    if let Some(m) = schedule.interval_minutes {
        if !(5..=10_080).contains(&m) {
            return Err(AppError::field(
                "interval_minutes",
                "between 5 and 10080 minutes (a week), or null for none",
            ));
        }
    }
    let conn = connection_of(state, &scope, id).await?;
    for r in spec.resources {
        let name = schedule_name(conn.id, r.name);
        match schedule.interval_minutes {
            Some(m) => {
                state
                    .workflows
                    .schedule(domain::workflows::ScheduleSpec {
                        tenant: Some(scope.tenant()),
                        name,
                        workflow_type: SYNC.into(),
                        input: json!({ "connection_id": conn.id, "resource": r.name }),
                        cadence: domain::workflows::Cadence::Every(Duration::from_secs(
                            60 * m as u64,
                        )),
                    })
                    .await?
            }
            None => {
                state
                    .workflows
                    .unschedule(Some(scope.tenant()), &name)
                    .await?;
            }
        }
    }
    let mut tx = state.store.write(&scope).await?;
    connections::set_interval(&mut tx, conn.id, schedule.interval_minutes, Utc::now()).await?;
    store::audit::record(
        &mut tx,
        NewAuditEntry::new(
            "connector.schedule",
            "connection",
            Some(conn.id.to_string()),
        )
        .with_metadata(json!({ "connector": id, "interval_minutes": schedule.interval_minutes }))
        .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    show(state, who, id).await
}

/// Listing parameters of a connector's data.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DataQuery {
    /// Words the title or fields contain.
    pub q: Option<String>,
    /// Only records with this provider status (`publish`, `draft`).
    pub status: Option<String>,
    /// Records deleted at the provider (tombstones) instead of live ones.
    pub deleted: Option<bool>,
    /// `-updated_at` (default), `updated_at`, `title` or `-title`.
    pub sort: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A synced record.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RecordView {
    /// The provider's id.
    pub external_id: String,
    /// Title or name.
    pub title: String,
    /// The provider's status.
    pub status: Option<String>,
    /// The typed fields the tabs show.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// The provider's JSON as it came (one record's read only; listings
    /// leave it out).
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
    /// When it last changed at the provider.
    pub remote_updated_at: Option<DateTime<Utc>>,
    /// When it was last synced or written through.
    pub synced_at: DateTime<Utc>,
    /// Deleted at the provider.
    pub deleted: bool,
}

impl From<SyncedRecord> for RecordView {
    fn from(r: SyncedRecord) -> Self {
        Self {
            external_id: r.external_id,
            title: r.title,
            status: r.status,
            fields: r.fields,
            raw: (!r.raw.is_null()).then_some(r.raw),
            remote_updated_at: r.remote_updated_at,
            synced_at: r.synced_at,
            deleted: r.deleted,
        }
    }
}

/// A page of synced records.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RecordPage {
    /// Records in the order asked for.
    pub items: Vec<RecordView>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Reads the local copy of a resource.
pub async fn data(
    state: &App,
    who: &Principal,
    id: &str,
    resource: &str,
    q: DataQuery,
) -> Result<RecordPage, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let spec = spec_of(state, id)?;
    resource_of(spec, resource)?;
    let mut errors = Vec::new();
    let sort = match q.sort.as_deref().map(Sort::parse).transpose() {
        Ok(s) => s.unwrap_or_default(),
        Err(m) => {
            errors.push(FieldError::new("sort", m));
            Sort::default()
        }
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        errors.push(FieldError::new("limit", "between 1 and 200"));
    }
    if q.q.as_ref().is_some_and(|s| s.len() > 200) {
        errors.push(FieldError::new("q", "at most 200 characters"));
    }
    AppError::collect(errors)?;
    let conn = connection_of(state, &scope, id).await?;
    let mut tx = state.store.read(&scope).await?;
    let page = synced::list(
        &mut tx,
        conn.id,
        resource,
        &Query {
            search: q.q,
            status: q.status,
            deleted: q.deleted.unwrap_or(false),
            sort,
            cursor: q.cursor,
            limit,
        },
    )
    .await
    .map_err(|e| match e {
        store::StoreError::Invalid(m) => AppError::field("cursor", m),
        other => other.into(),
    })?;
    tx.commit().await?;
    Ok(RecordPage {
        items: page.items.into_iter().map(RecordView::from).collect(),
        next_cursor: page.next,
    })
}

/// One synced record.
pub async fn record(
    state: &App,
    who: &Principal,
    id: &str,
    resource: &str,
    external_id: &str,
) -> Result<RecordView, AppError> {
    let scope = access::require(who, Scope::Read)?;
    resource_of(spec_of(state, id)?, resource)?;
    let conn = connection_of(state, &scope, id).await?;
    let mut tx = state.store.read(&scope).await?;
    let r = synced::get(&mut tx, conn.id, resource, external_id)
        .await
        .map_err(|e| match e {
            store::StoreError::NotFound => {
                AppError::NotFound(format!("no {resource} record `{external_id}` is stored"))
            }
            other => other.into(),
        })?;
    tx.commit().await?;
    Ok(r.into())
}

/// A change to make through a connector.
pub enum Change<'a> {
    /// Create a record from this JSON.
    Create(&'a Value),
    /// Change the record with this id.
    Update(&'a str, &'a Value),
    /// Delete the record with this id.
    Delete(&'a str),
}

/// Makes a change at the provider first, then in the local copy, audited
/// (members). Returns the record as the provider has it now (`None` after
/// a delete).
pub async fn change(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    id: &str,
    resource: &str,
    change: Change<'_>,
) -> Result<Option<RecordView>, AppError> {
    let scope = access::require(who, Scope::Write)?;
    change_for(state, &scope, origin, id, resource, change).await
}

/// [`change`] for a caller whose right to write was checked already (an
/// agent's tool, run for the member it answers).
async fn change_for(
    state: &App,
    scope: &TenantScope,
    origin: RequestOrigin,
    id: &str,
    resource: &str,
    change: Change<'_>,
) -> Result<Option<RecordView>, AppError> {
    let connector = connector_of(state, id)?;
    let spec = connector.spec();
    let res = resource_of(spec, resource)?;
    let (verb, allowed) = match change {
        Change::Create(_) => ("create", res.writes.create),
        Change::Update(..) => ("update", res.writes.update),
        Change::Delete(_) => ("delete", res.writes.delete),
    };
    if !allowed {
        return Err(AppError::Conflict(format!(
            "{} does not allow records of `{resource}` to be {verb}d",
            spec.name
        )));
    }
    if let Change::Create(body) | Change::Update(_, body) = change {
        if !body.is_object() {
            return Err(AppError::MalformedBody(
                "the record must be a JSON object".into(),
            ));
        }
    }
    let conn = connection_of(state, scope, id).await?;
    if conn.status == ConnectionStatus::NeedsReconnect {
        return Err(needs_reconnect(spec));
    }
    let path = SecretPath::parse(scope.tenant(), &conn.vault_path).map_err(AppError::Internal)?;
    let secret = state.secrets.get(&path).await?;
    let open = state
        .connectors
        .open(conn.id, conn.settings.clone(), secret);
    let done = match change {
        Change::Create(body) => connector.create(&open, resource, body).await.map(Some),
        Change::Update(ext, body) => connector.update(&open, resource, ext, body).await.map(Some),
        Change::Delete(ext) => match connector.delete(&open, resource, ext).await {
            // Already gone there: the local copy follows all the same.
            Ok(()) | Err(ConnectorError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        },
    };
    let done = match done {
        Ok(d) => d,
        Err(e) => {
            if e.needs_reconnect() {
                mark_needs_reconnect(state, scope, conn.id, &e).await;
                return Err(needs_reconnect(spec));
            }
            return Err(call_error(e));
        }
    };
    let now = Utc::now();
    let external_id = match (&done, &change) {
        (Some(r), _) => r.external_id.clone(),
        (None, Change::Delete(ext)) | (None, Change::Update(ext, _)) => ext.to_string(),
        (None, Change::Create(_)) => String::new(),
    };
    let mut tx = state.store.write(scope).await?;
    match &done {
        Some(r) => {
            synced::upsert(
                &mut tx,
                conn.id,
                resource,
                &[NewRecord {
                    external_id: r.external_id.clone(),
                    title: r.title.clone(),
                    status: r.status.clone(),
                    fields: r.fields.clone(),
                    raw: r.raw.clone(),
                    remote_updated_at: r.updated_at,
                }],
                None,
                now,
            )
            .await?;
        }
        None => synced::bury(&mut tx, conn.id, resource, &external_id, now).await?,
    }
    store::audit::record(
        &mut tx,
        NewAuditEntry::new(
            &format!("connector.record.{verb}"),
            "connector_record",
            Some(format!("{id}/{resource}/{external_id}")),
        )
        .with_metadata(json!({ "connector": id, "resource": resource, "external_id": external_id }))
        .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(done.map(|r| RecordView {
        external_id: r.external_id,
        title: r.title,
        status: r.status,
        fields: r.fields,
        raw: Some(r.raw),
        remote_updated_at: r.updated_at,
        synced_at: now,
        deleted: false,
    }))
}

async fn mark_needs_reconnect(state: &App, scope: &TenantScope, id: Uuid, e: &ConnectorError) {
    let marked = async {
        let mut tx = state.store.write(scope).await?;
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
        tracing::warn!(error = %m, "could not mark a connection as needing reconnection");
    }
}

fn needs_reconnect(spec: &Spec) -> AppError {
    AppError::Conflict(format!(
        "{} refused this connection's credentials; reconnect it at /dashboard/connectors/{}",
        spec.name, spec.id
    ))
}

/// A provider's answer to a call, as the platform's error.
fn call_error(e: ConnectorError) -> AppError {
    match e {
        ConnectorError::Invalid {
            message, fields, ..
        } => AppError::Validation {
            detail: message,
            errors: fields
                .into_iter()
                .map(|f| FieldError::new(f.field, f.message))
                .collect(),
        },
        ConnectorError::BadRequest(m) => AppError::Validation {
            detail: m,
            errors: vec![],
        },
        ConnectorError::NotFound { .. } => AppError::NotFound(e.to_string()),
        ConnectorError::RateLimited { retry_after, .. } => AppError::TooManyRequests {
            detail: format!("{e}; nothing was changed"),
            retry_after: retry_after.as_secs().max(1),
        },
        ConnectorError::Forbidden { .. } | ConnectorError::Refused(_) => {
            AppError::Conflict(e.to_string())
        }
        ConnectorError::Unauthorized { .. } => AppError::Conflict(e.to_string()),
        ConnectorError::Upstream { .. } | ConnectorError::Unreachable { .. } => {
            AppError::Unavailable(format!("{e}; nothing was changed here, try again"))
        }
    }
}

/// The connectors the workspace has working connections to: their tools
/// are offered to its agents.
pub(crate) async fn connected(state: &App, scope: &TenantScope) -> Result<Vec<String>, AppError> {
    let mut tx = state.store.read(scope).await?;
    let made = connections::list(&mut tx).await?;
    tx.commit().await?;
    Ok(made
        .into_iter()
        .filter(|c| c.status == ConnectionStatus::Connected)
        .map(|c| c.connector)
        .collect())
}

/// Runs a connector tool for an agent of the workspace. `Ok(Err(_))` is a
/// refusal the model reads and may correct (a bad argument, the tool's own
/// validation, the connection gone); `Err(_)` a failure of the platform.
pub(crate) async fn run_tool(
    state: &App,
    scope: &TenantScope,
    name: &str,
    args: &Value,
) -> Result<Result<String, String>, AppError> {
    let text = |k: &str| args.get(k).and_then(Value::as_str);
    let outcome = match name {
        "wordpress_list_posts" => {
            let limit = args
                .get("limit")
                .and_then(Value::as_u64)
                .unwrap_or(10)
                .clamp(1, 50) as u32;
            list_for_tool(
                state,
                scope,
                "wordpress",
                "posts",
                text("search"),
                text("status"),
                limit,
            )
            .await
        }
        "wordpress_create_post" => {
            let mut body = serde_json::Map::new();
            for k in ["title", "content", "excerpt", "status"] {
                if let Some(v) = text(k) {
                    body.insert(k.into(), json!(v));
                }
            }
            body.entry("status").or_insert(json!("draft"));
            let body = Value::Object(body);
            change_for(
                state,
                scope,
                RequestOrigin::default(),
                "wordpress",
                "posts",
                Change::Create(&body),
            )
            .await
            .map(|r| described(r, "created"))
        }
        "wordpress_update_post" => {
            let Some(id) = text("id") else {
                return Ok(Err(
                    "`id` is required: the post's id from wordpress_list_posts".into(),
                ));
            };
            let mut body = serde_json::Map::new();
            for k in ["title", "content", "excerpt", "status"] {
                if let Some(v) = text(k) {
                    body.insert(k.into(), json!(v));
                }
            }
            if body.is_empty() {
                return Ok(Err(
                    "give at least one of title, content, excerpt or status to change".into(),
                ));
            }
            let body = Value::Object(body);
            change_for(
                state,
                scope,
                RequestOrigin::default(),
                "wordpress",
                "posts",
                Change::Update(id, &body),
            )
            .await
            .map(|r| described(r, "updated"))
        }
        other => return Ok(Err(format!("there is no connector tool named `{other}`"))),
    };
    match outcome {
        Ok(text) => Ok(Ok(text)),
        Err(AppError::Internal(m)) => Err(AppError::Internal(m)),
        Err(AppError::Validation { detail, errors }) if !errors.is_empty() => Ok(Err(format!(
            "{detail} ({})",
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ))),
        Err(e) => Ok(Err(e.to_string())),
    }
}

fn described(r: Option<RecordView>, verb: &str) -> String {
    match r {
        Some(r) => json!({
            "result": verb,
            "id": r.external_id,
            "title": r.title,
            "status": r.status,
            "link": r.fields.get("link"),
        })
        .to_string(),
        None => verb.to_string(),
    }
}

async fn list_for_tool(
    state: &App,
    scope: &TenantScope,
    connector: &str,
    resource: &str,
    search: Option<&str>,
    status: Option<&str>,
    limit: u32,
) -> Result<String, AppError> {
    let conn = connection_of(state, scope, connector).await?;
    let mut tx = state.store.read(scope).await?;
    let page = synced::list(
        &mut tx,
        conn.id,
        resource,
        &Query {
            search: search.map(str::to_string),
            status: status.map(str::to_string),
            limit,
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|r| {
            json!({
                "id": r.external_id,
                "title": r.title,
                "status": r.status,
                "link": r.fields.get("link"),
                "modified": r.remote_updated_at,
            })
        })
        .collect();
    Ok(Value::Array(rows).to_string())
}
