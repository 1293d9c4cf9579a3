//! API tokens of the tenant: create (shown once), list, read, revoke.

use crate::idempotency::{self, Created};
use crate::input::{parse_id, PageParams};
use crate::{access, App, AppError};
use chrono::{DateTime, Utc};
use domain::audit::NewAuditEntry;
use domain::audit::RequestOrigin;
use domain::tokens::{Scope, TokenKind};
use domain::validation::DisplayName;
use domain::Principal;
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
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenPage {
    /// Tokens, newest first.
    pub items: Vec<TokenView>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

impl From<domain::paging::Page<repo::ApiToken>> for TokenPage {
    fn from(page: domain::paging::Page<repo::ApiToken>) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// Creates a tenant token (admin), with no scope beyond the caller's own.
/// Send `Idempotency-Key` to make retries safe.
pub async fn create(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    key: Option<String>,
    body: CreateToken,
) -> Result<Created<CreatedToken>, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    issue(
        state,
        who,
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
pub async fn create_personal(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    key: Option<String>,
    body: CreateToken,
) -> Result<Created<CreatedToken>, AppError> {
    let scope = signed_in_user(who)?.1;
    issue(
        state,
        who,
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
fn signed_in_user(who: &Principal) -> Result<(UserId, domain::TenantScope), AppError> {
    let scope = access::require(who, Scope::Read)?;
    match who.actor() {
        domain::Actor::User(user) => Ok((user, scope)),
        _ => Err(AppError::Forbidden(
            "personal tokens are managed from a signed-in session, not with an API token".into(),
        )),
    }
}

#[allow(clippy::too_many_arguments)]
async fn issue(
    state: &App,
    who: &Principal,
    scope: domain::TenantScope,
    kind: TokenKind,
    route: &str,
    origin: domain::audit::RequestOrigin,
    key: Option<String>,
    body: CreateToken,
) -> Result<Created<CreatedToken>, AppError> {
    let name = DisplayName::parse(&body.name).map_err(|m| AppError::field("name", m))?;
    if body.scopes.is_empty() {
        return Err(AppError::field(
            "scopes",
            "must hold at least one of read, write, admin, gateway",
        ));
    }
    if let Some(beyond) = body.scopes.iter().find(|s| !who.may_grant(**s)) {
        return Err(AppError::Forbidden(format!(
            "a token cannot hold the `{beyond}` scope: it would outrank its creator"
        )));
    }
    let mut tx = state.store.write(&scope).await?;
    let print = idempotency::fingerprint(route, &body);
    if let Some(key) = &key {
        if let Some(done) = idempotency::replay(&mut tx, key, &print).await? {
            return Ok(done);
        }
    }
    // Each token is a standing credential: a tenant's stock of them is
    // bounded, so a leaked admin token cannot mint without end.
    let cap = state.config.max_active_tokens;
    if repo::count_active(&mut tx).await? >= i64::from(cap) {
        return Err(AppError::Conflict(format!(
            "this workspace has {cap} active tokens, the most it may hold; revoke one it no longer needs first"
        )));
    }
    let (token, secret) = repo::issue_kind(&mut tx, kind, &name, &body.scopes, origin).await?;
    let token = TokenView::from(token);
    if let Some(key) = &key {
        let stored = CreatedToken {
            token: token.clone(),
            secret: None,
        };
        idempotency::remember(&mut tx, key, &print, &stored).await?;
    }
    tx.commit().await?;
    Ok(Created::new(CreatedToken {
        token,
        secret: Some(secret.plaintext),
    }))
}

/// The tenant's tokens, newest first (admin).
pub async fn list(state: &App, who: &Principal, q: PageParams) -> Result<TokenPage, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let (limit, cursor) = crate::input::paging(q.limit, q.cursor.as_deref())?;
    let mut tx = state.store.read(&scope).await?;
    let page = repo::list(&mut tx, cursor, limit).await?;
    tx.commit().await?;
    Ok(page.into())
}

/// The signed-in user's personal tokens, newest first.
pub async fn list_personal(
    state: &App,
    who: &Principal,
    q: PageParams,
) -> Result<TokenPage, AppError> {
    let (user, scope) = signed_in_user(who)?;
    let (limit, cursor) = crate::input::paging(q.limit, q.cursor.as_deref())?;
    let mut tx = state.store.read(&scope).await?;
    let page = repo::list_personal(&mut tx, user, cursor, limit).await?;
    tx.commit().await?;
    Ok(page.into())
}

/// Revokes one of the signed-in user's personal tokens at once.
pub async fn revoke_personal(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    id: &str,
) -> Result<TokenView, AppError> {
    let (user, scope) = signed_in_user(who)?;
    let id: TokenId = parse_id(id, "id")?;
    let mine = |t: &repo::ApiToken| t.kind == TokenKind::Personal && t.created_by == Some(user);
    revoke_where(state, scope, origin, id, mine).await
}

/// One token (admin).
pub async fn get(state: &App, who: &Principal, id: &str) -> Result<TokenView, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let id: TokenId = parse_id(id, "id")?;
    let mut tx = state.store.read(&scope).await?;
    let t = repo::get(&mut tx, id).await.map_err(not_found)?;
    tx.commit().await?;
    Ok(t.into())
}

/// Revokes a token at once (admin).
pub async fn revoke(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    id: &str,
) -> Result<TokenView, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let id: TokenId = parse_id(id, "id")?;
    revoke_where(state, scope, origin, id, |_| true).await
}

/// Revokes a token of the tenant that `allowed` accepts; any other reads as
/// absent, so nothing about other people's tokens leaks.
async fn revoke_where(
    state: &App,
    scope: domain::TenantScope,
    origin: RequestOrigin,
    id: TokenId,
    allowed: impl Fn(&repo::ApiToken) -> bool,
) -> Result<TokenView, AppError> {
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
    Ok(t.into())
}

fn not_found(e: store::StoreError) -> AppError {
    match e {
        store::StoreError::NotFound => AppError::NotFound("no API token with this id".into()),
        other => other.into(),
    }
}
