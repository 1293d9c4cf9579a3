//! Registration, sign-in and sign-out with email and password.
//!
//! Sign-in answers the same way, after the same argon2 work, whether the
//! email is unknown, the password wrong or the account locked, so nothing
//! tells an attacker which accounts exist.

use crate::{App, AppError};
use chrono::{DateTime, Utc};
use domain::audit::{NewAuditEntry, RequestOrigin};
use domain::email::OutgoingEmail;
use domain::roles::Role;
use domain::tokens::{self, hash_token, looks_like_session};
use domain::validation::{DisplayName, Email, FieldError};
use domain::{Principal, SystemJob, SystemScope, TenantId, UserId};
use serde::{Deserialize, Serialize};
use store::tenants::Tenant;
use store::users::User;
use store::{
    audit, login_failures, memberships, registrations, sessions, tenants, users, StoreError,
};

/// A new account and its tenant.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// Email address (ASCII), the sign-in name.
    pub email: String,
    /// At least 12 characters, not a common one, not containing the email.
    pub password: String,
    /// The business's name; its slug identifies the tenant.
    pub tenant_name: String,
    /// Display name (default: the email's local part).
    pub name: Option<String>,
}

/// Credentials.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
    /// Tenant slug to sign in to (default: the user's first tenant).
    pub tenant: Option<String>,
}

/// A signed-in session.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Send as `Authorization: Bearer …`; shown once.
    pub session: String,
    /// Absolute expiry (UTC); it ends sooner when idle.
    pub expires_at: DateTime<Utc>,
    /// The user.
    pub user_id: UserId,
    /// The user's email.
    pub email: String,
    /// The tenant signed in to.
    pub tenant_id: TenantId,
    /// Its slug.
    pub tenant_slug: String,
    /// The user's role there.
    pub role: Role,
}

pub const WRONG: &str = "email or password is wrong";

/// Hashes a password off the async threads (argon2 is slow on purpose).
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || auth::password::hash(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// Checks a password against a stored hash (or burns the same time without one).
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || auth::password::verify(&password, stored.as_deref()))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// Opens a session in a transaction scoped to the signed-in member.
pub async fn open_session(
    state: &App,
    tx: &mut store::TenantTx,
    user: &User,
    tenant: (TenantId, &str),
    role: Role,
    origin: RequestOrigin,
    action: &str,
) -> Result<SessionView, AppError> {
    let token = tokens::generate_session();
    let expires_at = Utc::now() + state.config.session_lifetime;
    let session = sessions::create(tx, user.id, &token, expires_at).await?;
    audit::record(
        tx,
        NewAuditEntry::new(action, "session", Some(session.id.to_string()))
            .with_metadata(serde_json::json!({ "email": user.email, "role": role }))
            .from_origin(origin),
    )
    .await?;
    Ok(SessionView {
        session: token.plaintext,
        expires_at,
        user_id: user.id,
        email: user.email.clone(),
        tenant_id: tenant.0,
        tenant_slug: tenant.1.to_string(),
        role,
    })
}

/// Counts a sign-in-like attempt against the client's address.
pub fn throttle(state: &App, origin: &RequestOrigin) -> Result<(), AppError> {
    if let Some(ip) = origin.ip.as_deref().and_then(|ip| ip.parse().ok()) {
        state
            .login_throttle
            .check(ip)
            .map_err(|retry_after| AppError::TooManyRequests {
                detail: format!(
                    "too many sign-in attempts from your address; try again in {retry_after} s"
                ),
                retry_after,
            })?;
    }
    Ok(())
}

/// A registration that waits for its email link.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistrationSent {
    /// Always `verification_sent`.
    pub status: String,
    /// What to do next.
    pub detail: String,
}

/// Confirming a registration with the token from its email link.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRegistration {
    /// The token from the link.
    pub token: String,
}

/// How long a registration link works.
const REGISTRATION_LINK_HOURS: i64 = 24;
const LINK_INVALID: &str =
    "the registration link is invalid, already used or expired; register again";

/// Starts a registration: emails a link that creates the account and its
/// tenant (the user becomes owner). The answer is the same whether or not
/// the email already has an account (that address is told so by email
/// instead), so registering reveals nothing about who has one.
pub async fn register(
    state: &App,
    origin: RequestOrigin,
    body: Register,
) -> Result<RegistrationSent, AppError> {
    if !state.config.registration_open {
        return Err(AppError::Forbidden(
            "registration is by invitation only; ask an admin of your tenant".into(),
        ));
    }
    throttle(state, &origin)?;
    let (email, tenant, name) = validate_registration(&body)?;
    // The argon2 work happens whether or not the account or the workspace
    // name exists, and the answer is the same: only the mailbox learns which.
    let hash = hash_password(body.password).await?;
    let base = state.config.public_url.trim_end_matches('/').to_string();
    let exists = users::credentials(&state.store, &email).await?.is_some();
    let name_taken = tenants::find(&state.store, &tenant.slug).await?.is_some();
    let (message, pending) = if name_taken && !exists {
        let message = OutgoingEmail {
            to: email.as_str().to_string(),
            subject: "Choose another name for your BizOSaaS workspace".into(),
            body: format!(
                "Someone (perhaps you) tried to register a workspace named {} with this address, but a workspace with that name already exists.\n\nRegister again with another name: {base}/register\n\nIf this was not you, ignore this message.\n",
                tenant.name
            ),
        };
        (message, None)
    } else if exists {
        let message = OutgoingEmail {
            to: email.as_str().to_string(),
            subject: "You already have a BizOSaaS account".into(),
            body: format!(
                "Someone (perhaps you) tried to register with this address, which already has an account.\n\nSign in: {base}/login\n\nIf you forgot your password, ask an admin of your workspace to reset it. If this was not you, ignore this message.\n"
            ),
        };
        (message, None)
    } else {
        let token = tokens::generate_session();
        let message = OutgoingEmail {
            to: email.as_str().to_string(),
            subject: format!("Confirm your BizOSaaS account for {}", tenant.name),
            body: format!(
                "Follow this link to finish creating your account and the workspace {}:\n\n{base}/register/confirm?token={}\n\nIt works once, for {REGISTRATION_LINK_HOURS} hours. If you did not register, ignore this message.\n",
                tenant.name, token.plaintext
            ),
        };
        (message, Some(token))
    };
    state.email.send(message).await.map_err(|e| {
        AppError::Unavailable(format!(
            "the confirmation email could not be sent, so nothing was kept: {}",
            e.0
        ))
    })?;
    if let Some(token) = pending {
        registrations::create(
            &state.store,
            &registrations::NewRegistration {
                token_hash: &token.hash,
                email: email.as_str(),
                name: name.as_str(),
                tenant_name: &tenant.name,
                password_hash: &hash,
                expires_at: Utc::now() + chrono::TimeDelta::hours(REGISTRATION_LINK_HOURS),
            },
        )
        .await?;
    }
    Ok(RegistrationSent {
        status: "verification_sent".into(),
        detail: format!(
            "check {} for a link to finish creating your account",
            email.as_str()
        ),
    })
}

fn validate_registration(body: &Register) -> Result<(Email, Tenant, DisplayName), AppError> {
    let mut errors = Vec::new();
    let email = Email::parse(&body.email)
        .map_err(|m| errors.push(FieldError::new("email", m)))
        .ok();
    if let Err(e) =
        auth::password::check_strength(&body.password, email.as_ref().map_or("", |e| e.as_str()))
    {
        errors.push(FieldError::new("password", e.to_string()));
    }
    let tenant_name = DisplayName::parse(&body.tenant_name)
        .map_err(|m| errors.push(FieldError::new("tenant_name", m)))
        .ok();
    let tenant = tenant_name.as_ref().and_then(|n| {
        Tenant::named(n)
            .map_err(|_| {
                errors.push(FieldError::new(
                    "tenant_name",
                    "needs at least one ASCII letter or digit",
                ))
            })
            .ok()
    });
    let default_name = email
        .as_ref()
        .map(|e| e.as_str().split('@').next().unwrap_or("").to_string())
        .unwrap_or_default();
    let name = DisplayName::parse(body.name.as_deref().unwrap_or(&default_name))
        .map_err(|m| errors.push(FieldError::new("name", m)))
        .ok();
    AppError::collect(errors)?;
    match (email, tenant, name) {
        (Some(e), Some(t), Some(n)) => Ok((e, t, n)),
        _ => Err(AppError::Internal("validated fields missing".into())),
    }
}

/// Finishes a registration from its email link: creates the account, its
/// tenant (the user becomes owner) and a session.
pub async fn confirm_registration(
    state: &App,
    origin: RequestOrigin,
    body: ConfirmRegistration,
) -> Result<SessionView, AppError> {
    throttle(state, &origin)?;
    let invalid = || AppError::NotFound(LINK_INVALID.into());
    if !looks_like_session(&body.token) {
        return Err(invalid());
    }
    let pending = registrations::find_by_hash(&state.store, &hash_token(&body.token))
        .await?
        .filter(|p| p.used_at.is_none() && p.expires_at > Utc::now())
        .ok_or_else(invalid)?;
    let email = Email::parse(&pending.email).map_err(AppError::Internal)?;
    let name = DisplayName::parse(&pending.name).map_err(AppError::Internal)?;
    let tenant_name = DisplayName::parse(&pending.tenant_name).map_err(AppError::Internal)?;
    let tenant = Tenant::named(&tenant_name).map_err(|e| AppError::Internal(e.to_string()))?;
    let user_id = UserId::new();
    let owner = Principal::member(tenant.id, user_id, Role::Owner);
    let mut tx = state.store.write(&owner.scope()).await?;
    registrations::mark_used(&mut tx, pending.id)
        .await
        .map_err(|_| invalid())?;
    let created = async {
        tenants::insert(&mut tx, &tenant).await?;
        let user = users::create(&mut tx, user_id, &email, &name, &pending.password_hash).await?;
        memberships::add(&mut tx, user_id, Role::Owner).await?;
        Ok::<_, StoreError>(user)
    }
    .await;
    let user = match created {
        Ok(u) => u,
        Err(StoreError::Conflict(_)) => {
            drop(tx);
            let taken = users::credentials(&state.store, &email).await?.is_some();
            return Err(AppError::Conflict(if taken {
                "an account with this email was created meanwhile; sign in instead".into()
            } else {
                format!(
                    "a tenant named like `{}` was created meanwhile; register again with another name",
                    tenant.name
                )
            }));
        }
        Err(e) => return Err(e.into()),
    };
    let view = open_session(
        state,
        &mut tx,
        &user,
        (tenant.id, &tenant.slug),
        Role::Owner,
        origin,
        "user.register",
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

/// Signs in with email and password; returns a session token.
pub async fn login(
    state: &App,
    origin: RequestOrigin,
    body: Login,
) -> Result<SessionView, AppError> {
    throttle(state, &origin)?;
    let email = Email::parse(&body.email).map_err(|m| AppError::field("email", m))?;
    if body.password.is_empty() || body.password.len() > auth::password::MAX_BYTES {
        return Err(AppError::field(
            "password",
            format!("must be 1 to {} bytes", auth::password::MAX_BYTES),
        ));
    }
    let creds = users::credentials(&state.store, &email).await?;
    // The argon2 work happens for every attempt, known account or not.
    let matches = verify_password(
        body.password,
        creds.as_ref().and_then(|c| c.password_hash.clone()),
    )
    .await?;
    let wrong = || AppError::Unauthorized(WRONG.into());
    let Some(creds) = creds else {
        return Err(wrong());
    };
    let user = creds.user;

    let tenants_of_user = memberships::of_user(&state.store, user.id).await?;
    let chosen = match &body.tenant {
        None => tenants_of_user.first().copied(),
        Some(slug) => match tenants::find(&state.store, slug).await? {
            Some(t) => tenants_of_user.iter().find(|(id, _)| *id == t.id).copied(),
            None => None,
        },
    };
    // Failures count per account and address, so a stranger's guesses lock
    // out the stranger, not the account's owner.
    let address = origin.ip.as_deref().unwrap_or("unknown").to_string();
    let locked = login_failures::locked_until(&state.store, user.id, &address)
        .await?
        .is_some();
    if locked || !matches {
        let just_locked = !locked
            && login_failures::record(
                &state.store,
                user.id,
                &address,
                state.config.lockout_after,
                state.config.lockout_for,
            )
            .await?;
        // Audited in the tenant asked for, else the user's first one.
        if let Some((tenant_id, _)) = chosen.or_else(|| tenants_of_user.first().copied()) {
            let check = SystemScope::new(tenant_id, SystemJob::CredentialCheck);
            let mut tx = state.store.system_write(&check).await?;
            let action = if locked {
                "auth.login_refused_locked"
            } else {
                "auth.login_failed"
            };
            audit::record(
                &mut tx,
                NewAuditEntry::new(action, "user", Some(user.id.to_string()))
                    .with_metadata(serde_json::json!({ "email": user.email }))
                    .from_origin(origin.clone()),
            )
            .await?;
            if just_locked {
                audit::record(
                    &mut tx,
                    NewAuditEntry::new("auth.lockout", "user", Some(user.id.to_string()))
                        .with_metadata(serde_json::json!({
                            "email": user.email,
                            "after_failures": state.config.lockout_after,
                            "minutes": state.config.lockout_for.num_minutes(),
                        }))
                        .from_origin(origin),
                )
                .await?;
            }
            tx.commit().await?;
        }
        return Err(wrong());
    }
    let Some((tenant_id, role)) = chosen else {
        return Err(wrong());
    };

    login_failures::clear(&state.store, user.id, &address).await?;
    let member = Principal::member(tenant_id, user.id, role);
    let mut tx = state.store.write(&member.scope()).await?;
    let slug = tenants::current(&mut tx).await?.slug;
    let view = open_session(
        state,
        &mut tx,
        &user,
        (tenant_id, &slug),
        role,
        origin,
        "auth.login",
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

/// Ends the session sent as the bearer token.
pub async fn logout(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    presented: &str,
) -> Result<(), AppError> {
    let presented = presented_session(presented)?;
    let hash = hash_token(presented);
    let session = sessions::find_by_hash(&state.store, &hash)
        .await?
        .ok_or_else(|| AppError::Unauthorized("the session has ended".into()))?;
    let mut tx = state.store.write(&who.scope()).await?;
    sessions::revoke(&mut tx, session.id).await?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("auth.logout", "session", Some(session.id.to_string()))
            .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    state.tokens.evict_hash(&hash);
    Ok(())
}

/// Ends every session of the signed-in user in this tenant ("log out everywhere").
pub async fn logout_all(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
) -> Result<(), AppError> {
    let Some(user) = who.actor().user_id() else {
        return Err(AppError::field(
            "Authorization",
            "log out everywhere needs a signed-in user, not an API token",
        ));
    };
    let mut tx = state.store.write(&who.scope()).await?;
    let ended = sessions::revoke_all_of_user(&mut tx, user).await?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("auth.logout_all", "user", Some(user.to_string()))
            .with_metadata(serde_json::json!({ "sessions_ended": ended }))
            .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    state.tokens.evict_user(user);
    Ok(())
}

/// The session token the caller presented; an API token is refused.
fn presented_session(presented: &str) -> Result<&str, AppError> {
    if !looks_like_session(presented) {
        return Err(AppError::field(
            "Authorization",
            "this needs a signed-in session; API tokens are managed with /api/v1/tokens",
        ));
    }
    Ok(presented)
}

/// Another tenant to switch to.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchTenant {
    /// Slug of a tenant the user belongs to.
    pub tenant: String,
}

/// Switches the signed-in user to another of their tenants: a new session
/// there replaces the current one.
pub async fn switch(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    presented: &str,
    body: SwitchTenant,
) -> Result<SessionView, AppError> {
    let presented = presented_session(presented)?;
    let Some(user_id) = who.actor().user_id() else {
        return Err(AppError::field(
            "Authorization",
            "switching tenants needs a signed-in user",
        ));
    };
    let not_yours = || AppError::NotFound(format!("you belong to no tenant `{}`", body.tenant));
    let target = tenants::find(&state.store, &body.tenant)
        .await?
        .ok_or_else(not_yours)?;
    let role = memberships::of_user(&state.store, user_id)
        .await?
        .into_iter()
        .find(|(t, _)| *t == target.id)
        .map(|(_, r)| r)
        .ok_or_else(not_yours)?;
    let user = users::credentials_by_id(&state.store, user_id)
        .await?
        .ok_or_else(not_yours)?
        .user;
    let member = Principal::member(target.id, user_id, role);
    let mut tx = state.store.write(&member.scope()).await?;
    let view = open_session(
        state,
        &mut tx,
        &user,
        (target.id, &target.slug),
        role,
        origin,
        "auth.switch_tenant",
    )
    .await?;
    tx.commit().await?;
    let hash = hash_token(presented);
    if let Some(old) = sessions::find_by_hash(&state.store, &hash).await? {
        let mut tx = state.store.write(&who.scope()).await?;
        sessions::revoke(&mut tx, old.id).await?;
        tx.commit().await?;
    }
    state.tokens.evict_hash(&hash);
    Ok(view)
}

/// A password change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The current password.
    pub current_password: String,
    /// The new one (same strength rules as registration).
    pub new_password: String,
}

/// Changes the signed-in user's password and ends all their sessions, this
/// one included: sign in again with the new password.
pub async fn change_password(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    body: ChangePassword,
) -> Result<(), AppError> {
    let Some(user_id) = who.actor().user_id() else {
        return Err(AppError::field(
            "Authorization",
            "changing a password needs a signed-in user",
        ));
    };
    let creds = users::credentials_by_id(&state.store, user_id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("the account no longer exists".into()))?;
    auth::password::check_strength(&body.new_password, &creds.user.email)
        .map_err(|e| AppError::field("new_password", e.to_string()))?;
    if !verify_password(body.current_password, creds.password_hash.clone()).await? {
        return Err(AppError::Unauthorized(
            "the current password is wrong".into(),
        ));
    }
    let hash = hash_password(body.new_password).await?;
    users::set_password(&state.store, user_id, &hash).await?;
    for (tenant, _) in memberships::of_user(&state.store, user_id).await? {
        let check = SystemScope::new(tenant, SystemJob::CredentialCheck);
        let mut tx = state.store.system_write(&check).await?;
        let ended = sessions::revoke_all_of_user(&mut tx, user_id).await?;
        let entry = NewAuditEntry::new("user.password_change", "user", Some(user_id.to_string()))
            .with_metadata(serde_json::json!({ "sessions_ended": ended }))
            .from_origin(origin.clone());
        audit::record(&mut tx, entry).await?;
        tx.commit().await?;
    }
    state.tokens.evict_user(user_id);
    Ok(())
}
