//! The caller's own tenant.

use crate::auth::Auth;
use crate::extract::{ApiJson, Origin};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::audit::NewAuditEntry;
use domain::tokens::Scope;
use domain::validation::DisplayName;
use domain::TenantId;
use serde::{Deserialize, Serialize};
use store::{audit, tenants};

/// A tenant as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TenantView {
    /// Id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// URL-safe handle.
    pub slug: String,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

impl From<tenants::Tenant> for TenantView {
    fn from(t: tenants::Tenant) -> Self {
        Self {
            id: t.id,
            name: t.name,
            slug: t.slug,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// Changes to a tenant.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    /// New display name, 1 to 100 characters.
    pub name: String,
}

/// The caller's tenant.
#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenant", security(("bearer" = [])), responses(
    (status = 200, body = TenantView),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn get(State(state): State<AppState>, auth: Auth) -> Result<Json<TenantView>, ApiError> {
    let scope = auth.require(Scope::Read)?;
    let mut tx = state.store.read(&scope).await?;
    let t = tenants::current(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(t.into()))
}

/// Renames the caller's tenant (owner; or an API token with the admin scope).
#[utoipa::path(patch, path = "/api/v1/tenant", tag = "tenant", security(("bearer" = [])), request_body = UpdateTenant, responses(
    (status = 200, body = TenantView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Origin(origin): Origin,
    ApiJson(body): ApiJson<UpdateTenant>,
) -> Result<Json<TenantView>, ApiError> {
    let scope = auth.require_owner()?;
    let name = DisplayName::parse(&body.name).map_err(|m| ApiError::field("name", m))?;
    let mut tx = state.store.write(&scope).await?;
    let before = tenants::current(&mut tx).await?;
    let t = tenants::rename(&mut tx, &name).await?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("tenant.update", "tenant", Some(t.id.to_string()))
            .with_metadata(serde_json::json!({ "name": { "from": before.name, "to": t.name } }))
            .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(t.into()))
}
