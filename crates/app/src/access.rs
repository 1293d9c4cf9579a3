//! Who the caller is and what they may do: credentials (API tokens `bzs_…`,
//! sessions `bzss_…`) resolved to a principal, and the role checks every
//! use case starts with.
//!
//! Verified credentials are cached for `token_cache_ttl`, so a revocation
//! reaches other instances within that bound; on the instance that revoked,
//! it is immediate.

use crate::{App, AppError};
use chrono::Utc;
use domain::tokens::{hash_token, looks_like_session, looks_like_token, Scope, TokenKind};
use domain::{Actor, Principal, SystemJob, SystemScope, TenantScope, TokenId, UserId};
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

/// Resolves a presented credential to a principal: the cache, then the database.
pub async fn resolve(state: &App, presented: &str) -> Result<Principal, AppError> {
    let session = looks_like_session(presented);
    if !session && !looks_like_token(presented) {
        return Err(AppError::Unauthorized(
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
    let invalid = || AppError::Unauthorized("the bearer token is invalid or revoked".into());
    let token = tokens::find_by_hash(&state.store, &hash)
        .await?
        .ok_or_else(invalid)?;
    if token.revoked_at.is_some() {
        return Err(invalid());
    }
    let principal = match (token.kind, token.created_by) {
        (TokenKind::Personal, Some(user)) => {
            let check = SystemScope::new(token.tenant_id, SystemJob::CredentialCheck);
            let mut tx = state.store.system_read(&check).await?;
            let role = memberships::role_of(&mut tx, user).await?;
            tx.commit().await?;
            let role = role.ok_or_else(|| {
                AppError::Unauthorized(
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
async fn resolve_session(state: &App, hash: String) -> Result<Principal, AppError> {
    let ended = |why: &str| AppError::Unauthorized(format!("the session {why}; sign in again"));
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
    let check = SystemScope::new(s.tenant_id, SystemJob::CredentialCheck);
    let mut tx = state.store.system_read(&check).await?;
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

/// The caller's tenant scope for what only owners may do: a signed-in owner
/// or an owner's personal token with the admin scope. Tenant tokens never
/// qualify, so an admin cannot mint a token that outranks them.
pub fn require_owner(who: &Principal) -> Result<TenantScope, AppError> {
    if who.is_owner() {
        Ok(who.scope())
    } else if who.role().is_none() {
        Err(AppError::Forbidden(
            "this operation needs the `owner` role; tenant API tokens never have it (use an owner's session or personal token)".into(),
        ))
    } else {
        Err(AppError::Forbidden(
            "this operation needs the `owner` role".into(),
        ))
    }
}

/// The caller's tenant scope, after checking it grants `needed`.
pub fn require(who: &Principal, needed: Scope) -> Result<TenantScope, AppError> {
    if who.has_scope(needed) {
        Ok(who.scope())
    } else {
        Err(AppError::Forbidden(format!(
            "this operation needs the `{}` role (or an API token with the `{needed}` scope)",
            match needed {
                Scope::Read => "viewer",
                Scope::Write => "member",
                Scope::Admin => "admin",
                Scope::Gateway => "member",
            }
        )))
    }
}

/// The signed-in user behind a session or personal token, and their role.
pub fn signed_in_user(
    who: &Principal,
    doing: &str,
) -> Result<(UserId, domain::roles::Role), AppError> {
    require(who, Scope::Read)?;
    match (who.actor().user_id(), who.role()) {
        (Some(user), Some(role)) => Ok((user, role)),
        _ => Err(AppError::field(
            "Authorization",
            format!("{doing} needs a signed-in user, not an API token"),
        )),
    }
}
