//! The signed-in user's own profile and the tenants they belong to.

use crate::auth::Auth;
use crate::extract::{ApiJson, Origin};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use domain::audit::NewAuditEntry;
use domain::roles::Role;
use domain::tokens::Scope;
use domain::validation::{DisplayName, Email, FieldError};
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

/// The signed-in user behind a session.
fn user_of(auth: &Auth) -> Result<(UserId, Role), ApiError> {
    auth.require(Scope::Read)?;
    match (auth.0.actor().user_id(), auth.0.role()) {
        (Some(user), Some(role)) => Ok((user, role)),
        _ => Err(ApiError::field(
            "Authorization",
            "this needs a signed-in session, not an API token",
        )),
    }
}

/// The signed-in user's profile and tenants.
pub async fn load(
    state: &AppState,
    user: UserId,
    role: Role,
    tenant: TenantId,
) -> Result<Profile, ApiError> {
    let creds = users::credentials_by_id(&state.store, user)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
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
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = Profile),
    (status = 422, description = "The bearer is an API token, not a user", body = Problem, content_type = "application/problem+json"),
))]
pub async fn get(State(state): State<AppState>, auth: Auth) -> Result<Json<Profile>, ApiError> {
    let (user, role) = user_of(&auth)?;
    Ok(Json(load(&state, user, role, auth.0.tenant()).await?))
}

/// Changes the signed-in user's name or email.
#[utoipa::path(patch, path = "/api/v1/me", tag = "auth", security(("bearer" = [])), request_body = UpdateProfile, responses(
    (status = 200, body = Profile),
    (status = 401, description = "The current password is wrong", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Another account has this email", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Origin(origin): Origin,
    ApiJson(body): ApiJson<UpdateProfile>,
) -> Result<Json<Profile>, ApiError> {
    let (user, role) = user_of(&auth)?;
    let creds = users::credentials_by_id(&state.store, user)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
    let mut errors = Vec::new();
    let name = DisplayName::parse(body.name.as_deref().unwrap_or(&creds.user.name))
        .map_err(|m| errors.push(FieldError::new("name", m)))
        .ok();
    let email = Email::parse(body.email.as_deref().unwrap_or(&creds.user.email))
        .map_err(|m| errors.push(FieldError::new("email", m)))
        .ok();
    super::auth::collect(errors)?;
    let (Some(name), Some(email)) = (name, email) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let email_changes = email.as_str() != creds.user.email;
    if email_changes {
        let Some(password) = body.current_password.filter(|p| !p.is_empty()) else {
            return Err(ApiError::field(
                "current_password",
                "is required to change the email",
            ));
        };
        if !super::auth::verify_password(password, creds.password_hash.clone()).await? {
            return Err(ApiError::Unauthorized(
                "the current password is wrong".into(),
            ));
        }
    }
    let mut tx = state.store.write(&auth.0.scope()).await?;
    users::update_profile(&mut tx, user, &name, &email)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                ApiError::Conflict("another account already uses this email".into())
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
    Ok(Json(load(&state, user, role, auth.0.tenant()).await?))
}
