//! Connectors: connections, syncs, and the synced data with write-through
//! changes.

use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery, Origin};
use crate::idempotency::IdempotencyKey;
use crate::problem::{ApiError, Problem};
use app::connectors::{
    self, Change, ConnectorView, DataQuery, RecordPage, RecordView, Schedule, SyncRequest,
};
use app::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use domain::workflows::RunSummary;
use serde_json::{Map, Value};

/// Every connector with its status for the tenant.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ConnectorList {
    /// The connectors.
    pub items: Vec<ConnectorView>,
}

/// Lists every connector and the tenant's connection to each.
#[utoipa::path(get, path = "/api/v1/connectors", tag = "connectors", security(("bearer" = [])),
    responses((status = 200, body = ConnectorList)))]
pub async fn list(
    State(state): State<App>,
    Auth(who): Auth,
) -> Result<Json<ConnectorList>, ApiError> {
    Ok(Json(ConnectorList {
        items: connectors::list(&state, &who).await?,
    }))
}

/// One connector and the tenant's connection to it.
#[utoipa::path(get, path = "/api/v1/connectors/{id}", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id, e.g. `wordpress`")),
    responses(
        (status = 200, body = ConnectorView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn show(
    State(state): State<App>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<ConnectorView>, ApiError> {
    Ok(Json(connectors::show(&state, &who, &id).await?))
}

/// Connects a connector with its fields (admin), checked with a live call
/// before anything is saved; secret fields go to the secret store only.
/// Connecting again replaces the fields.
#[utoipa::path(post, path = "/api/v1/connectors/{id}/connect", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id")),
    request_body(content = Object, description = "The connector's fields (see `auth.fields` of the connector)"),
    responses(
        (status = 200, body = ConnectorView, description = "Connected"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A field is missing or wrong, or the provider refused them (in `errors`)"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "The provider or the secret store is unavailable; nothing saved"),
    ))]
pub async fn connect(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(id): Path<String>,
    ApiJson(fields): ApiJson<Map<String, Value>>,
) -> Result<Json<ConnectorView>, ApiError> {
    Ok(Json(
        connectors::connect(&state, &who, origin, &id, fields).await?,
    ))
}

/// Disconnects a connector (admin): its credentials are destroyed, its
/// schedules stopped and its local copy deleted.
#[utoipa::path(delete, path = "/api/v1/connectors/{id}/connect", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id")),
    responses(
        (status = 204, description = "Disconnected"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn disconnect(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    connectors::disconnect(&state, &who, origin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets how often every resource of the connection is synced (admin).
#[utoipa::path(put, path = "/api/v1/connectors/{id}/schedule", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id")),
    request_body = Schedule,
    responses(
        (status = 200, body = ConnectorView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn schedule(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Schedule>,
) -> Result<Json<ConnectorView>, ApiError> {
    Ok(Json(
        connectors::set_schedule(&state, &who, origin, &id, body).await?,
    ))
}

/// Starts a sync of one resource as a workflow run (members); follow it at
/// `/api/v1/workflows/{run id}`.
#[utoipa::path(post, path = "/api/v1/connectors/{id}/sync/{resource}", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id"), ("resource" = String, Path, description = "Resource, e.g. `posts`"),
        ("Idempotency-Key" = Option<String>, Header, description = "Starting again with the same key returns the same run"), SyncRequest),
    responses(
        (status = 202, body = RunSummary, description = "Started"),
        (status = 200, body = RunSummary, description = "A run with this key exists"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such connector or resource, or not connected"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The connection needs reconnecting"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "The workflow engine is unreachable; nothing started"),
    ))]
pub async fn sync(
    State(state): State<App>,
    Auth(who): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Path((id, resource)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<SyncRequest>,
) -> Result<(StatusCode, Json<RunSummary>), ApiError> {
    let started = connectors::sync(&state, &who, &id, &resource, key, q).await?;
    let status = if started.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(started.run)))
}

/// Reads the local copy of a resource: search, filters, sort, cursor paging.
#[utoipa::path(get, path = "/api/v1/connectors/{id}/data/{resource}", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id"), ("resource" = String, Path, description = "Resource"), DataQuery),
    responses(
        (status = 200, body = RecordPage),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn data(
    State(state): State<App>,
    Auth(who): Auth,
    Path((id, resource)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<DataQuery>,
) -> Result<Json<RecordPage>, ApiError> {
    Ok(Json(
        connectors::data(&state, &who, &id, &resource, q).await?,
    ))
}

/// Creates a record at the provider, then in the local copy (members).
#[utoipa::path(post, path = "/api/v1/connectors/{id}/data/{resource}", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id"), ("resource" = String, Path, description = "Resource")),
    request_body(content = Object, description = "The record in the provider's fields; media: `filename`, `content_type`, `data_base64`, `title`"),
    responses(
        (status = 201, body = RecordView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The connection needs reconnecting"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The provider rejected it; its reasons per field in `errors`"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "The provider is unavailable; nothing changed"),
    ))]
pub async fn create(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path((id, resource)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<RecordView>), ApiError> {
    let r = connectors::change(&state, &who, origin, &id, &resource, Change::Create(&body)).await?;
    let r = r.ok_or_else(|| {
        ApiError::from(app::AppError::Internal(
            "a create returned no record".into(),
        ))
    })?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// One record of the local copy.
#[utoipa::path(get, path = "/api/v1/connectors/{id}/data/{resource}/{external_id}", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id"), ("resource" = String, Path, description = "Resource"), ("external_id" = String, Path, description = "The provider's id")),
    responses(
        (status = 200, body = RecordView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<App>,
    Auth(who): Auth,
    Path((id, resource, external_id)): Path<(String, String, String)>,
) -> Result<Json<RecordView>, ApiError> {
    Ok(Json(
        connectors::record(&state, &who, &id, &resource, &external_id).await?,
    ))
}

/// Changes a record at the provider, then in the local copy (members).
#[utoipa::path(put, path = "/api/v1/connectors/{id}/data/{resource}/{external_id}", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id"), ("resource" = String, Path, description = "Resource"), ("external_id" = String, Path, description = "The provider's id")),
    request_body(content = Object, description = "The fields to change, in the provider's names"),
    responses(
        (status = 200, body = RecordView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path((id, resource, external_id)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<RecordView>, ApiError> {
    let r = connectors::change(
        &state,
        &who,
        origin,
        &id,
        &resource,
        Change::Update(&external_id, &body),
    )
    .await?
    .ok_or_else(|| {
        ApiError::from(app::AppError::Internal(
            "an update returned no record".into(),
        ))
    })?;
    Ok(Json(r))
}

/// Deletes a record at the provider, then marks it deleted in the local copy (members).
#[utoipa::path(delete, path = "/api/v1/connectors/{id}/data/{resource}/{external_id}", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id"), ("resource" = String, Path, description = "Resource"), ("external_id" = String, Path, description = "The provider's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path((id, resource, external_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    connectors::change(
        &state,
        &who,
        origin,
        &id,
        &resource,
        Change::Delete(&external_id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
