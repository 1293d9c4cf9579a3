//! The signed-in user's own profile and the tenants they belong to, and the
//! caller's tenant.

use crate::{access, App, AppError};
use chrono::{DateTime, Utc};
use domain::audit::NewAuditEntry;
use domain::audit::RequestOrigin;
use domain::roles::Role;
use domain::tokens::Scope;
use domain::validation::{DisplayName, Email, FieldError};
use domain::Principal;
use domain::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use store::{audit, memberships, tenants, users, StoreError};

/// A tenant the user belongs to.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MyTenant {
    /// Id.
    pub id: TenantId,
    /// Name.
    pub name: String,
    /// Slug, to switch to it.
    pub slug: String,
    /// The user's role there.
    pub role: Role,
}

/// The signed-in user.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profile {
    /// Id.
    pub id: UserId,
    /// Email (the sign-in name).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role in the current tenant.
    pub role: Role,
    /// The tenant signed in to.
    pub tenant_id: TenantId,
    /// Every tenant the user belongs to.
    pub tenants: Vec<MyTenant>,
}

/// Changes to the profile; changing the email needs the current password.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfile {
    /// New display name.
    pub name: Option<String>,
    /// New email address.
    pub email: Option<String>,
    /// The current password (required to change the email).
    pub current_password: Option<String>,
}

/// The signed-in user's profile and tenants.
pub async fn load(
    state: &App,
    user: UserId,
    role: Role,
    tenant: TenantId,
) -> Result<Profile, AppError> {
    let creds = users::credentials_by_id(&state.store, user)
        .await?
        .ok_or_else(|| AppError::Unauthorized("the account no longer exists".into()))?;
    let mut mine = Vec::new();
    for (id, role) in memberships::of_user(&state.store, user).await? {
        if let Some(t) = tenants::find(&state.store, &id.to_string()).await? {
            mine.push(MyTenant {
                id,
                name: t.name,
                slug: t.slug,
                role,
            });
        }
    }
    Ok(Profile {
        id: user,
        email: creds.user.email,
        name: creds.user.name,
        role,
        tenant_id: tenant,
        tenants: mine,
    })
}

/// The signed-in user.
pub async fn get(state: &App, who: &Principal) -> Result<Profile, AppError> {
    let (user, role) = access::signed_in_user(who, "this")?;
    load(state, user, role, who.tenant()).await
}

/// Changes the signed-in user's name or email.
pub async fn update(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    body: UpdateProfile,
) -> Result<Profile, AppError> {
    let (user, role) = access::signed_in_user(who, "this")?;
    let creds = users::credentials_by_id(&state.store, user)
        .await?
        .ok_or_else(|| AppError::Unauthorized("the account no longer exists".into()))?;
    let mut errors = Vec::new();
    let name = DisplayName::parse(body.name.as_deref().unwrap_or(&creds.user.name))
        .map_err(|m| errors.push(FieldError::new("name", m)))
        .ok();
    let email = Email::parse(body.email.as_deref().unwrap_or(&creds.user.email))
        .map_err(|m| errors.push(FieldError::new("email", m)))
        .ok();
    AppError::collect(errors)?;
    let (Some(name), Some(email)) = (name, email) else {
        return Err(AppError::Internal("validated fields missing".into()));
    };
    let email_changes = email.as_str() != creds.user.email;
    if email_changes {
        let Some(password) = body.current_password.filter(|p| !p.is_empty()) else {
            return Err(AppError::field(
                "current_password",
                "is required to change the email",
            ));
        };
        if !crate::identity::verify_password(password, creds.password_hash.clone()).await? {
            return Err(AppError::Unauthorized(
                "the current password is wrong".into(),
            ));
        }
    }
    let mut tx = state.store.write(&who.scope()).await?;
    users::update_profile(&mut tx, user, &name, &email)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                AppError::Conflict("another account already uses this email".into())
            }
            other => other.into(),
        })?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("user.update", "user", Some(user.to_string()))
            .with_metadata(serde_json::json!({
                "name": { "from": creds.user.name, "to": name.as_str() },
                "email_changed": email_changes,
            }))
            .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    load(state, user, role, who.tenant()).await
}

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
pub async fn tenant(state: &App, who: &Principal) -> Result<TenantView, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let mut tx = state.store.read(&scope).await?;
    let t = tenants::current(&mut tx).await?;
    tx.commit().await?;
    Ok(t.into())
}

/// Renames the caller's tenant (owner; or an API token with the admin scope).
pub async fn update_tenant(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    body: UpdateTenant,
) -> Result<TenantView, AppError> {
    let scope = access::require_owner(who)?;
    let name = DisplayName::parse(&body.name).map_err(|m| AppError::field("name", m))?;
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
    Ok(t.into())
}
