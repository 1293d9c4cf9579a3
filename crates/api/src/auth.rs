//! Bearer authentication: API tokens (`bzs_…`) and session tokens (`bzss_…`).
//!
//! Every route of the protected router passes through [`require_token`]; the
//! handler then reads the [`Auth`] it left behind. Verified credentials are
//! cached for `token_cache_ttl`, so a revocation reaches other instances
//! within that bound; on the instance that revoked, it is immediate.

use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use domain::tokens::{hash_token, looks_like_session, looks_like_token, Scope, TokenKind};
use domain::{Actor, Principal, TenantScope, TokenId, UserId};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use store::{memberships, sessions, tokens};

/// How often `last_used_at` is written for a busy token.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
/// Entries kept before the cache is emptied (it refills from the database).
const MAX_ENTRIES: usize = 100_000;

#[derive(Clone)]
struct Cached {
    principal: Principal,
    token: TokenId,
    /// The user whose rights the credential carries (sessions, personal tokens).
    user: Option<UserId>,
    until: Instant,
}

/// Recently verified tokens, keyed by their hash.
pub struct TokenCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, Cached>>,
}

impl TokenCache {
    /// An empty cache.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    fn get(&self, hash: &str) -> Option<Principal> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|c| c.until > Instant::now())
            .map(|c| c.principal.clone())
    }

    fn put(&self, hash: String, principal: Principal, token: TokenId, user: Option<UserId>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            hash,
            Cached {
                principal,
                token,
                user,
                until: Instant::now() + self.ttl,
            },
        );
    }

    fn put_session(&self, hash: String, principal: Principal) {
        // Sessions are evicted by hash or user, never by token id.
        let user = principal.actor().user_id();
        self.put(hash, principal, TokenId::from_uuid(uuid::Uuid::nil()), user);
    }

    /// Forgets every cached credential of a user at once (role change,
    /// removal, log out everywhere).
    pub fn evict_user(&self, user: domain::UserId) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, c| c.user != Some(user));
    }

    /// Forgets a credential by its hash at once (sign-out).
    pub fn evict_hash(&self, hash: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(hash);
    }

    /// Forgets a token at once (on revocation).
    pub fn evict(&self, token: TokenId) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, c| c.token != token);
    }
}

/// Resolves a presented bearer token to a principal: the cache, then the database.
pub async fn resolve(state: &AppState, presented: &str) -> Result<Principal, ApiError> {
    let session = looks_like_session(presented);
    if !session && !looks_like_token(presented) {
        return Err(ApiError::Unauthorized(
            "the bearer token is malformed (API tokens start with `bzs_`, sessions with `bzss_`)"
                .into(),
        ));
    }
    let hash = hash_token(presented);
    if let Some(p) = state.tokens.get(&hash) {
        return Ok(p);
    }
    if session {
        return resolve_session(state, hash).await;
    }
    let invalid = || ApiError::Unauthorized("the bearer token is invalid or revoked".into());
    let token = tokens::find_by_hash(&state.store, &hash)
        .await?
        .ok_or_else(invalid)?;
    if token.revoked_at.is_some() {
        return Err(invalid());
    }
    let principal = match (token.kind, token.created_by) {
        (TokenKind::Personal, Some(user)) => {
            let mut tx = state
                .store
                .read(&TenantScope::system(token.tenant_id))
                .await?;
            let role = memberships::role_of(&mut tx, user).await?;
            tx.commit().await?;
            let role = role.ok_or_else(|| {
                ApiError::Unauthorized(
                    "the bearer token belonged to a member who has left the tenant".into(),
                )
            })?;
            Principal::personal_token(token.tenant_id, token.id, role, &token.scopes)
        }
        _ => Principal::authenticated(
            token.tenant_id,
            Actor::Token(token.id),
            token.scopes.clone(),
        ),
    };
    let stale = token
        .last_used_at
        .is_none_or(|t| Utc::now() - t > TOUCH_EVERY);
    if stale {
        let mut tx = state.store.write(&principal.scope()).await?;
        tokens::touch(&mut tx, token.id).await?;
        tx.commit().await?;
    }
    let user = (token.kind == TokenKind::Personal)
        .then_some(token.created_by)
        .flatten();
    state.tokens.put(hash, principal.clone(), token.id, user);
    Ok(principal)
}

/// A session is valid until revoked, past its absolute expiry, or idle for
/// longer than the configured idle timeout; its member must still belong to
/// the tenant, and the role decides the scopes.
async fn resolve_session(state: &AppState, hash: String) -> Result<Principal, ApiError> {
    let ended = |why: &str| ApiError::Unauthorized(format!("the session {why}; sign in again"));
    let s = sessions::find_by_hash(&state.store, &hash)
        .await?
        .ok_or_else(|| ended("is invalid or has ended"))?;
    let now = Utc::now();
    if s.revoked_at.is_some() {
        return Err(ended("has ended"));
    }
    if s.expires_at <= now || now - s.last_seen_at > state.config.session_idle {
        return Err(ended("has expired"));
    }
    let system = TenantScope::system(s.tenant_id);
    let mut tx = state.store.read(&system).await?;
    let role = memberships::role_of(&mut tx, s.user_id).await?;
    tx.commit().await?;
    let role = role.ok_or_else(|| ended("belongs to a membership that was removed"))?;
    let principal = Principal::member(s.tenant_id, s.user_id, role);
    if now - s.last_seen_at > TOUCH_EVERY {
        let mut tx = state.store.write(&principal.scope()).await?;
        sessions::touch(&mut tx, s.id).await?;
        tx.commit().await?;
    }
    state.tokens.put_session(hash, principal.clone());
    Ok(principal)
}

/// Middleware: refuses requests without a valid bearer token.
pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = req.headers().get(AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthorized("send an API token as `Authorization: Bearer <token>`".into())
    })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not ASCII".into()))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must use the Bearer scheme".into())
        })?
        .trim();
    let principal = resolve(&state, token).await?;
    tracing::Span::current().record("tenant.id", tracing::field::display(principal.tenant()));
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}

/// The authenticated caller of a protected route.
#[derive(Clone, Debug)]
pub struct Auth(pub Principal);

impl Auth {
    /// The caller's scope for what only owners may do: a signed-in owner or
    /// an owner's personal token with the admin scope. Tenant tokens never
    /// qualify, so an admin cannot mint a token that outranks them.
    pub fn require_owner(&self) -> Result<TenantScope, ApiError> {
        if self.0.is_owner() {
            Ok(self.0.scope())
        } else if self.0.role().is_none() {
            Err(ApiError::Forbidden(
                "this operation needs the `owner` role; tenant API tokens never have it (use an owner's session or personal token)".into(),
            ))
        } else {
            Err(ApiError::Forbidden(
                "this operation needs the `owner` role".into(),
            ))
        }
    }

    /// Whether the caller acts as an owner (tenant API tokens never do).
    pub fn is_owner(&self) -> bool {
        self.0.is_owner()
    }

    /// The caller's tenant scope, after checking it grants `needed`.
    pub fn require(&self, needed: Scope) -> Result<TenantScope, ApiError> {
        if self.0.has_scope(needed) {
            Ok(self.0.scope())
        } else {
            Err(ApiError::Forbidden(format!(
                "this operation needs the `{}` role (or an API token with the `{needed}` scope)",
                match needed {
                    Scope::Read => "viewer",
                    Scope::Write => "member",
                    Scope::Admin => "admin",
                }
            )))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Auth)
            .ok_or_else(|| ApiError::Internal("route is missing the authentication layer".into()))
    }
}
