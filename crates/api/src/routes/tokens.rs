//! API tokens of the tenant: create (shown once), list, read, revoke.

use super::parse_id;
use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery, Origin};
use crate::idempotency::{self, IdempotencyKey};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use domain::audit::NewAuditEntry;
use domain::tokens::{Scope, TokenKind};
use domain::validation::DisplayName;
use domain::{TokenId, UserId};
use serde::{Deserialize, Serialize};
use store::{audit, tokens as repo};

/// A token as listed: never its secret.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenView {
    /// Id.
    pub id: TokenId,
    /// Label.
    pub name: String,
    /// The token's first characters, to recognise it.
    pub prefix: String,
    /// What it may do (a personal token never more than its user's role).
    pub scopes: Vec<Scope>,
    /// `tenant` (belongs to the tenant) or `personal` (acts as its user).
    pub kind: TokenKind,
    /// Creator, when a user created it; for a personal token, whose it is.
    pub created_by: Option<UserId>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last used, to the minute (UTC).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revoked (UTC).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<repo::ApiToken> for TokenView {
    fn from(t: repo::ApiToken) -> Self {
        Self {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            scopes: t.scopes,
            kind: t.kind,
            created_by: t.created_by,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A new token request.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Label, 1 to 100 characters.
    pub name: String,
    /// Scopes; at least one.
    pub scopes: Vec<Scope>,
}

/// A created token, with its secret: shown this once.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The token.
    pub token: TokenView,
    /// The secret to send as `Authorization: Bearer …`. Absent on an
    /// idempotent replay: secrets are never stored.
    pub secret: Option<String>,
}

/// A page of tokens.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenPage {
    /// Tokens, newest first.
    pub items: Vec<TokenView>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Paging parameters.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Creates a tenant token (admin), with no scope beyond the caller's own.
/// Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])), request_body = CreateToken,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create return the first result")),
    responses(
        (status = 201, body = CreatedToken),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Origin(origin): Origin,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<Response, ApiError> {
    let scope = auth.require(Scope::Admin)?;
    issue(
        &state,
        &auth,
        scope,
        TokenKind::Tenant,
        "POST /api/v1/tokens",
        origin,
        key,
        body,
    )
    .await
}

/// Creates a personal token for the signed-in user: it acts as them, never
/// beyond their current role, and dies when they leave the tenant.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "tokens", security(("bearer" = [])), request_body = CreateToken,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create return the first result")),
    responses(
        (status = 201, body = CreatedToken),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_personal(
    State(state): State<AppState>,
    auth: Auth,
    Origin(origin): Origin,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<Response, ApiError> {
    let scope = signed_in_user(&auth)?.1;
    issue(
        &state,
        &auth,
        scope,
        TokenKind::Personal,
        "POST /api/v1/me/tokens",
        origin,
        key,
        body,
    )
    .await
}

/// The signed-in user behind a session: personal tokens are made and
/// listed by people, not by other tokens.
fn signed_in_user(auth: &Auth) -> Result<(UserId, domain::TenantScope), ApiError> {
    let scope = auth.require(Scope::Read)?;
    match auth.0.actor() {
        domain::Actor::User(user) => Ok((user, scope)),
        _ => Err(ApiError::Forbidden(
            "personal tokens are managed from a signed-in session, not with an API token".into(),
        )),
    }
}

#[allow(clippy::too_many_arguments)]
async fn issue(
    state: &AppState,
    auth: &Auth,
    scope: domain::TenantScope,
    kind: TokenKind,
    route: &str,
    origin: domain::audit::RequestOrigin,
    key: Option<String>,
    body: CreateToken,
) -> Result<Response, ApiError> {
    let name = DisplayName::parse(&body.name).map_err(|m| ApiError::field("name", m))?;
    if body.scopes.is_empty() {
        return Err(ApiError::field(
            "scopes",
            "must hold at least one of read, write, admin",
        ));
    }
    if let Some(beyond) = body.scopes.iter().find(|s| !auth.0.has_scope(**s)) {
        return Err(ApiError::Forbidden(format!(
            "a token cannot hold the `{beyond}` scope: it would outrank its creator"
        )));
    }
    let mut tx = state.store.write(&scope).await?;
    let print = idempotency::fingerprint(route, &body);
    if let Some(key) = &key {
        if let Some(res) = idempotency::replay(&mut tx, key, &print).await? {
            return Ok(res);
        }
    }
    let (token, secret) = repo::issue_kind(&mut tx, kind, &name, &body.scopes, origin).await?;
    let token = TokenView::from(token);
    if let Some(key) = &key {
        let stored = CreatedToken {
            token: token.clone(),
            secret: None,
        };
        idempotency::remember(&mut tx, key, &print, StatusCode::CREATED, &stored).await?;
    }
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token,
            secret: Some(secret.plaintext),
        }),
    )
        .into_response())
}

/// The tenant's tokens, newest first (admin).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, body = TokenPage),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<TokenPage>, ApiError> {
    let scope = auth.require(Scope::Admin)?;
    let (limit, cursor) = super::paging(q.limit, q.cursor.as_deref())?;
    let mut tx = state.store.read(&scope).await?;
    let page = repo::list(&mut tx, cursor, limit).await?;
    tx.commit().await?;
    Ok(Json(TokenPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The signed-in user's personal tokens, newest first.
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "tokens", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, body = TokenPage),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list_personal(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<TokenPage>, ApiError> {
    let (user, scope) = signed_in_user(&auth)?;
    let (limit, cursor) = super::paging(q.limit, q.cursor.as_deref())?;
    let mut tx = state.store.read(&scope).await?;
    let page = repo::list_personal(&mut tx, user, cursor, limit).await?;
    tx.commit().await?;
    Ok(Json(TokenPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Revokes one of the signed-in user's personal tokens at once.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = TokenView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_personal(
    State(state): State<AppState>,
    auth: Auth,
    origin: Origin,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let (user, scope) = signed_in_user(&auth)?;
    let id: TokenId = parse_id(&id, "id")?;
    let mine = |t: &repo::ApiToken| t.kind == TokenKind::Personal && t.created_by == Some(user);
    revoke_where(&state, scope, origin, id, mine).await
}

/// One token (admin).
#[utoipa::path(get, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = TokenView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let scope = auth.require(Scope::Admin)?;
    let id: TokenId = parse_id(&id, "id")?;
    let mut tx = state.store.read(&scope).await?;
    let t = repo::get(&mut tx, id).await.map_err(not_found)?;
    tx.commit().await?;
    Ok(Json(t.into()))
}

/// Revokes a token at once (admin).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = TokenView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke(
    State(state): State<AppState>,
    auth: Auth,
    origin: Origin,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let scope = auth.require(Scope::Admin)?;
    let id: TokenId = parse_id(&id, "id")?;
    revoke_where(&state, scope, origin, id, |_| true).await
}

/// Revokes a token of the tenant that `allowed` accepts; any other reads as
/// absent, so nothing about other people's tokens leaks.
async fn revoke_where(
    state: &AppState,
    scope: domain::TenantScope,
    Origin(origin): Origin,
    id: TokenId,
    allowed: impl Fn(&repo::ApiToken) -> bool,
) -> Result<Json<TokenView>, ApiError> {
    let mut tx = state.store.write(&scope).await?;
    let found = repo::get(&mut tx, id).await.map_err(not_found)?;
    if !allowed(&found) {
        return Err(not_found(store::StoreError::NotFound));
    }
    let t = repo::revoke(&mut tx, id).await.map_err(not_found)?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("api_token.revoke", "api_token", Some(id.to_string()))
            .with_metadata(serde_json::json!({ "name": t.name, "prefix": t.prefix }))
            .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    state.tokens.evict(id);
    Ok(Json(t.into()))
}

fn not_found(e: store::StoreError) -> ApiError {
    match e {
        store::StoreError::NotFound => ApiError::NotFound("no API token with this id".into()),
        other => other.into(),
    }
}
