//! Signing in with an identity a single sign-on provider vouched for.
//!
//! A provider account already linked signs its user in. Otherwise it is
//! linked to the account with the same email only when the provider says
//! that email is verified; with no such account, one is created (with its
//! own workspace) where registration is open.

use crate::identity::{open_session, SessionView};
use crate::{App, AppError};
use auth::sso::ExternalIdentity;
use domain::audit::{NewAuditEntry, RequestOrigin};
use domain::roles::Role;
use domain::validation::{DisplayName, Email};
use domain::{Principal, UserId};
use store::tenants::Tenant;
use store::{audit, identities, memberships, tenants, users, StoreError};

/// How the identity met its account.
enum Outcome {
    Linked(UserId),
    LinkNow(UserId),
    Create,
}

/// Signs in (linking or creating the account as above) and opens a session.
pub async fn sign_in(
    state: &App,
    origin: RequestOrigin,
    who: &ExternalIdentity,
) -> Result<SessionView, AppError> {
    let provider = who.provider.as_str();
    let outcome = match identities::find(&state.store, provider, &who.subject).await? {
        Some(user) => Outcome::Linked(user),
        None => {
            if !who.email_verified {
                return Err(AppError::Forbidden(format!(
                    "your {provider} email address is not verified; verify it there first, or sign in with your password"
                )));
            }
            let email = Email::parse(&who.email).map_err(|m| {
                AppError::Forbidden(format!("the email {provider} gave cannot be used: {m}"))
            })?;
            match users::credentials(&state.store, &email).await? {
                Some(creds) => {
                    if identities::has_provider(&state.store, creds.user.id, provider).await? {
                        return Err(AppError::Conflict(format!(
                            "this account is already linked to a different {provider} account"
                        )));
                    }
                    Outcome::LinkNow(creds.user.id)
                }
                None if state.config.registration_open => Outcome::Create,
                None => {
                    return Err(AppError::Forbidden(
                        "no account uses this email, and registration is by invitation only; ask an admin of your workspace to invite you".into(),
                    ))
                }
            }
        }
    };
    match outcome {
        Outcome::Create => create(state, origin, who).await,
        Outcome::Linked(user) => existing(state, origin, who, user, false).await,
        Outcome::LinkNow(user) => existing(state, origin, who, user, true).await,
    }
}

async fn existing(
    state: &App,
    origin: RequestOrigin,
    who: &ExternalIdentity,
    user_id: UserId,
    link: bool,
) -> Result<SessionView, AppError> {
    let creds = users::credentials_by_id(&state.store, user_id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("the linked account no longer exists".into()))?;
    let (tenant_id, role) = memberships::of_user(&state.store, user_id)
        .await?
        .first()
        .copied()
        .ok_or_else(|| {
            AppError::Forbidden(
                "your account belongs to no workspace any more; ask for an invitation".into(),
            )
        })?;
    let member = Principal::member(tenant_id, user_id, role);
    let mut tx = state.store.write(&member.scope()).await?;
    if link {
        identities::link(&mut tx, user_id, &who.provider, &who.subject, &who.email)
            .await
            .map_err(conflict)?;
        audit::record(
            &mut tx,
            NewAuditEntry::new("auth.sso_link", "user", Some(user_id.to_string()))
                .with_metadata(serde_json::json!({ "provider": who.provider, "email": who.email }))
                .from_origin(origin.clone()),
        )
        .await?;
    }
    let slug = tenants::current(&mut tx).await?.slug;
    let view = open_session(
        state,
        &mut tx,
        &creds.user,
        (tenant_id, &slug),
        role,
        origin,
        "auth.sso_login",
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

async fn create(
    state: &App,
    origin: RequestOrigin,
    who: &ExternalIdentity,
) -> Result<SessionView, AppError> {
    let email = Email::parse(&who.email).map_err(|m| AppError::field("email", m))?;
    let local = email.as_str().split('@').next().unwrap_or("").to_string();
    let shown = who
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(local);
    let name = DisplayName::parse(&shown)
        .or_else(|_| DisplayName::parse("New user"))
        .map_err(AppError::Internal)?;
    let workspace = DisplayName::parse(&format!("{} workspace", name.as_str()))
        .or_else(|_| DisplayName::parse("My workspace"))
        .map_err(AppError::Internal)?;
    let user_id = UserId::new();
    // A workspace name already taken gets a short suffix from the user id.
    let tenant = match Tenant::named(&workspace) {
        Ok(t) if tenants::find(&state.store, &t.slug).await?.is_none() => t,
        _ => {
            let suffix = &user_id.to_string()[24..];
            let n = DisplayName::parse(&format!("{} {suffix}", workspace.as_str()))
                .map_err(AppError::Internal)?;
            Tenant::named(&n).map_err(|e| AppError::Internal(e.to_string()))?
        }
    };
    let owner = Principal::member(tenant.id, user_id, Role::Owner);
    let mut tx = state.store.write(&owner.scope()).await?;
    tenants::insert(&mut tx, &tenant).await.map_err(conflict)?;
    let user = users::create_without_password(&mut tx, user_id, &email, &name)
        .await
        .map_err(conflict)?;
    memberships::add(&mut tx, user_id, Role::Owner).await?;
    identities::link(&mut tx, user_id, &who.provider, &who.subject, &who.email)
        .await
        .map_err(conflict)?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("user.register_sso", "user", Some(user_id.to_string()))
            .with_metadata(serde_json::json!({ "provider": who.provider, "email": who.email }))
            .from_origin(origin.clone()),
    )
    .await?;
    let view = open_session(
        state,
        &mut tx,
        &user,
        (tenant.id, &tenant.slug),
        Role::Owner,
        origin,
        "auth.sso_login",
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

/// A race with another sign-in of the same person: retrying resolves it.
fn conflict(e: StoreError) -> AppError {
    match e {
        StoreError::Conflict(_) => AppError::Conflict(
            "this sign-in raced with another for the same account; try again".into(),
        ),
        other => other.into(),
    }
}
