//! BYOK: tenants' own LLM provider keys (the plan's §2.3). Keys go to the
//! secret store at `tenants/{tenant}/api_keys/{service}`; the database keeps
//! a reference and facts safe to show. Admins only.
//!
//! A key and its reference change together or not at all: the secret is
//! written (or destroyed) first, then the reference in one transaction with
//! its audit entry; if that transaction fails, the secret is put back as it
//! was.

use crate::{access, App, AppError};
use ai::providers::{CheckError, Provider, Verdict};
use chrono::{DateTime, Utc};
use domain::audit::RequestOrigin;
use domain::secrets::{ExposeSecret, Secret, SecretPath, SecretStoreError, SecretString};
use domain::tokens::Scope;
use domain::Principal;
use domain::TenantScope;
use serde::{Deserialize, Serialize};
use store::api_keys::{self, ApiKeyRef, NewApiKeyRef};

/// A stored key as shown: never the key, only its last four characters.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyView {
    /// `openai`, `anthropic`, `openrouter`, or an OpenAI-compatible service's name.
    pub service: String,
    /// The provider this service talks to.
    pub provider: String,
    /// The key masked to its last four characters, e.g. `…x9Qa`.
    pub masked_key: String,
    /// Base URL of an OpenAI-compatible endpoint.
    pub base_url: Option<String>,
    /// Who added it: `user:<id>`, `token:<id>`, or `operator`.
    pub added_by: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it was last checked with the provider.
    pub last_tested_at: Option<DateTime<Utc>>,
    /// Whether that check passed.
    pub last_test_ok: Option<bool>,
    /// What the provider said.
    pub last_test_detail: Option<String>,
}

impl From<ApiKeyRef> for KeyView {
    fn from(k: ApiKeyRef) -> Self {
        Self {
            provider: Provider::for_service(&k.service).label().to_string(),
            masked_key: format!("…{}", k.key_hint),
            service: k.service,
            base_url: k.base_url,
            added_by: match k.added_by {
                domain::Actor::User(u) => format!("user:{u}"),
                domain::Actor::Token(t) => format!("token:{t}"),
                domain::Actor::System => "operator".into(),
            },
            created_at: k.created_at,
            last_tested_at: k.last_tested_at,
            last_test_ok: k.last_test_ok,
            last_test_detail: k.last_test_detail,
        }
    }
}

/// The tenant's keys.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyList {
    /// Keys by service name.
    pub items: Vec<KeyView>,
}

/// A key to store.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddKey {
    /// The provider's API key. Never shown again.
    #[schema(value_type = String)]
    pub api_key: SecretString,
    /// For an OpenAI-compatible service: its base URL (e.g. `https://llm.example.com/v1`).
    pub base_url: Option<String>,
}

/// Options of storing a key.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AddKeyQuery {
    /// Check the key with the provider first (default true).
    pub validate: Option<bool>,
}

impl From<SecretStoreError> for AppError {
    fn from(e: SecretStoreError) -> Self {
        match e {
            SecretStoreError::Unavailable(_) => AppError::Unavailable(
                "secret store unavailable; nothing was changed, try again shortly".into(),
            ),
            SecretStoreError::NotFound(_) => {
                AppError::NotFound("the key is no longer in the secret store; add it again".into())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

fn check_error(e: CheckError) -> AppError {
    match e {
        CheckError::BadUrl(m) => AppError::field("base_url", m),
        CheckError::RateLimited { retry_after, .. } => AppError::TooManyRequests {
            detail: e.to_string(),
            retry_after,
        },
        CheckError::Unreachable(m) => AppError::Unavailable(format!(
            "{m}; the key was not stored (retry, or add it with ?validate=false)"
        )),
    }
}

fn path_of(scope: &TenantScope, service: &str) -> Result<SecretPath, AppError> {
    SecretPath::api_key(scope.tenant(), service).map_err(|m| AppError::field("service", m))
}

fn hint(key: &str) -> Result<String, AppError> {
    let chars: Vec<char> = key.chars().collect();
    if key.trim() != key || chars.len() < 8 || chars.len() > 512 {
        return Err(AppError::field(
            "api_key",
            "must be 8 to 512 characters without surrounding spaces",
        ));
    }
    // A key travels in an HTTP header: control characters can never be part
    // of a real one, and would only fail later, less clearly.
    if chars.iter().any(|c| c.is_control()) {
        return Err(AppError::field(
            "api_key",
            "must not contain control characters (line breaks, tabs, NUL)",
        ));
    }
    Ok(chars[chars.len() - 4..].iter().collect())
}

/// Stores (or replaces) a key after checking it with its provider.
async fn add_key(
    state: &App,
    scope: &TenantScope,
    service: &str,
    body: AddKey,
    validate: bool,
    origin: RequestOrigin,
) -> Result<ApiKeyRef, AppError> {
    if service == crate::chat::LOCAL_SERVICE {
        return Err(AppError::field(
            "service",
            "`local` is the platform's own model server, which needs no key; name the service otherwise",
        ));
    }
    let path = path_of(scope, service)?;
    let provider = Provider::for_service(service);
    let key_hint = hint(body.api_key.expose_secret())?;
    let base_url = match (provider, body.base_url.as_deref()) {
        (Provider::Compatible, None) => {
            return Err(AppError::field(
                "base_url",
                format!("`{service}` is not openai, anthropic or openrouter, so it is taken as an OpenAI-compatible endpoint and needs its base URL"),
            ))
        }
        (Provider::Compatible, Some(url)) => Some(state.providers.base_url(url).map_err(check_error)?),
        (_, Some(_)) => {
            return Err(AppError::field(
                "base_url",
                format!("only OpenAI-compatible services take a base URL, not {}", provider.label()),
            ))
        }
        (_, None) => None,
    };
    let tested = if validate {
        match state
            .providers
            .check(provider, base_url.as_deref(), &body.api_key)
            .await
            .map_err(check_error)?
        {
            Verdict::Valid(detail) => Some((true, detail)),
            Verdict::Rejected(reason) => return Err(AppError::field("api_key", reason)),
        }
    } else {
        None
    };

    let previous = previous_secret(state, &path).await?;
    state
        .secrets
        .put(&path, &Secret::single("api_key", body.api_key))
        .await?;
    let saved = async {
        let mut tx = state.store.write(scope).await?;
        let key = api_keys::upsert(
            &mut tx,
            NewApiKeyRef {
                service: service.to_string(),
                vault_path: path.as_str().to_string(),
                base_url,
                key_hint,
                tested,
                origin,
            },
        )
        .await?;
        tx.commit().await?;
        Ok::<_, store::StoreError>(key)
    }
    .await;
    match saved {
        Ok(key) => Ok(key),
        Err(e) => {
            restore(state, &path, previous).await;
            Err(e.into())
        }
    }
}

/// What is stored at a path now, to put back if the reference cannot follow.
pub(crate) async fn previous_secret(
    state: &App,
    path: &SecretPath,
) -> Result<Option<Secret>, AppError> {
    match state.secrets.get(path).await {
        Ok(s) => Ok(Some(s)),
        Err(SecretStoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn restore(state: &App, path: &SecretPath, previous: Option<Secret>) {
    let undone = match &previous {
        Some(s) => state.secrets.put(path, s).await,
        None => state.secrets.delete(path).await,
    };
    if let Err(e) = undone {
        tracing::error!(%path, error = %e, "could not undo a secret change after its reference failed to save");
    }
}

/// Re-checks a stored key with its provider and records the result.
async fn test_key(
    state: &App,
    scope: &TenantScope,
    service: &str,
    origin: RequestOrigin,
) -> Result<ApiKeyRef, AppError> {
    let key = find(state, scope, service).await?;
    let path = SecretPath::parse(scope.tenant(), &key.vault_path).map_err(AppError::Internal)?;
    let secret = state.secrets.get(&path).await?;
    let api_key = secret
        .get("api_key")
        .ok_or_else(|| AppError::Internal(format!("no api_key field at {path}")))?;
    let (ok, detail) = match state
        .providers
        .check(
            Provider::for_service(service),
            key.base_url.as_deref(),
            api_key,
        )
        .await
    {
        Ok(Verdict::Valid(d)) => (true, d),
        Ok(Verdict::Rejected(d)) => (false, d),
        Err(CheckError::BadUrl(d)) | Err(CheckError::Unreachable(d)) => (false, d),
        Err(e @ CheckError::RateLimited { .. }) => (false, e.to_string()),
    };
    let mut tx = state.store.write(scope).await?;
    let updated = api_keys::record_test(&mut tx, service, ok, &detail, origin)
        .await?
        .ok_or_else(|| not_found(service))?;
    tx.commit().await?;
    Ok(updated)
}

/// Revokes a key: destroyed in the secret store, reference removed, audited.
async fn revoke_key(
    state: &App,
    scope: &TenantScope,
    service: &str,
    origin: RequestOrigin,
) -> Result<(), AppError> {
    let key = find(state, scope, service).await?;
    let path = SecretPath::parse(scope.tenant(), &key.vault_path).map_err(AppError::Internal)?;
    let previous = previous_secret(state, &path).await?;
    state.secrets.delete(&path).await?;
    let removed = async {
        let mut tx = state.store.write(scope).await?;
        api_keys::delete(&mut tx, service, origin).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = removed {
        restore(state, &path, previous).await;
        return Err(e.into());
    }
    Ok(())
}

/// The tenant's keys.
async fn list_keys(state: &App, scope: &TenantScope) -> Result<Vec<ApiKeyRef>, AppError> {
    let mut tx = state.store.read(scope).await?;
    let keys = api_keys::list(&mut tx).await?;
    tx.commit().await?;
    Ok(keys)
}

async fn find(state: &App, scope: &TenantScope, service: &str) -> Result<ApiKeyRef, AppError> {
    path_of(scope, service)?;
    let mut tx = state.store.read(scope).await?;
    let key = api_keys::find(&mut tx, service).await?;
    tx.commit().await?;
    key.ok_or_else(|| not_found(service))
}

fn not_found(service: &str) -> AppError {
    AppError::NotFound(format!("no key is stored for `{service}`"))
}

/// Stores (or replaces) a key for a provider, checked with the provider
/// first unless `validate` is false (admins).
pub async fn add(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    service: &str,
    validate: bool,
    body: AddKey,
) -> Result<KeyView, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let key = add_key(state, &scope, service, body, validate, origin).await?;
    Ok(key.into())
}

/// The tenant's keys, masked (admins).
pub async fn list(state: &App, who: &Principal) -> Result<Vec<KeyView>, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    Ok(list_keys(state, &scope)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Checks a stored key with its provider again and records the result (admins).
pub async fn test(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    service: &str,
) -> Result<KeyView, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    Ok(test_key(state, &scope, service, origin).await?.into())
}

/// Revokes a key: destroyed in the secret store and forgotten (admins).
pub async fn revoke(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    service: &str,
) -> Result<(), AppError> {
    let scope = access::require(who, Scope::Admin)?;
    revoke_key(state, &scope, service, origin).await
}
