//! Invitations: admins invite by email address with a role; the person
//! follows a one-time link and joins (with a new account, or their existing
//! one after proving its password).

use crate::idempotency::{self, Created};
use crate::identity::{hash_password, open_session, verify_password, SessionView, WRONG};
use crate::input::parse_id;
use crate::{access, App, AppError};
use chrono::{DateTime, Utc};
use domain::audit::NewAuditEntry;
use domain::audit::RequestOrigin;
use domain::email::OutgoingEmail;
use domain::roles::Role;
use domain::tokens::{self, hash_token, looks_like_session, Scope};
use domain::validation::{DisplayName, Email};
use domain::{InvitationId, Principal, UserId};
use serde::{Deserialize, Serialize};
use store::invitations::{self, Invitation};
use store::{audit, memberships, tenants, users, StoreError};

/// An invitation request.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    /// Who to invite.
    pub email: String,
    /// Their role once they join.
    pub role: Role,
}

/// An invitation as listed (never its link).
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvitationView {
    /// Id.
    pub id: InvitationId,
    /// Invited address.
    pub email: String,
    /// Role on joining.
    pub role: Role,
    /// Who invited.
    pub invited_by: Option<UserId>,
    /// Sent (UTC).
    pub created_at: DateTime<Utc>,
    /// The link stops working then (UTC).
    pub expires_at: DateTime<Utc>,
}

impl From<Invitation> for InvitationView {
    fn from(i: Invitation) -> Self {
        Self {
            id: i.id,
            email: i.email,
            role: i.role,
            invited_by: i.invited_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// Open invitations.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvitationList {
    /// Newest first.
    pub items: Vec<InvitationView>,
}

/// Accepting an invitation.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// The token from the invitation link.
    pub token: String,
    /// A new password, or the existing account's password.
    pub password: String,
    /// Display name for a new account (default: the email's local part).
    pub name: Option<String>,
}

const INVALID: &str = "the invitation link is invalid, already used, withdrawn or expired";

/// Invites someone (admin; inviting an owner needs the owner role). The
/// email is sent before the invitation is stored: if it cannot be sent,
/// nothing is kept.
pub async fn create(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    key: Option<String>,
    body: CreateInvitation,
) -> Result<Created<InvitationView>, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    if body.role == Role::Owner && !who.is_owner() {
        return Err(AppError::Forbidden(
            "inviting an owner needs the `owner` role".into(),
        ));
    }
    let email = Email::parse(&body.email).map_err(|m| AppError::field("email", m))?;
    let mut tx = state.store.write(&scope).await?;
    let print = idempotency::fingerprint("POST /api/v1/invitations", &body);
    if let Some(key) = &key {
        if let Some(done) = idempotency::replay(&mut tx, key, &print).await? {
            return Ok(done);
        }
    }
    if let Some(existing) = users::credentials(&state.store, &email).await? {
        if memberships::role_of(&mut tx, existing.user.id)
            .await?
            .is_some()
        {
            return Err(AppError::Conflict(format!(
                "{} is already a member",
                email.as_str()
            )));
        }
    }
    let tenant = tenants::current(&mut tx).await?;
    let token = tokens::generate_session();
    let expires_at = Utc::now() + state.config.invitation_lifetime;
    let invitation = invitations::create(&mut tx, &email, body.role, &token, expires_at).await?;
    audit::record(
        &mut tx,
        NewAuditEntry::new(
            "invitation.create",
            "invitation",
            Some(invitation.id.to_string()),
        )
        .with_metadata(serde_json::json!({ "email": invitation.email, "role": invitation.role }))
        .from_origin(origin),
    )
    .await?;
    let link = format!(
        "{}/invitations/accept?token={}",
        state.config.public_url.trim_end_matches('/'),
        token.plaintext
    );
    let message = OutgoingEmail {
        to: email.as_str().to_string(),
        subject: format!("You are invited to {} on BizOSaaS", tenant.name),
        body: format!(
            "You have been invited to join {} on BizOSaaS as {}.\n\nAccept: {link}\n\nThe link works once and until {}.\n",
            tenant.name,
            invitation.role,
            expires_at.format("%Y-%m-%d %H:%M UTC"),
        ),
    };
    state.email.send(message).await.map_err(|e| {
        AppError::Unavailable(format!(
            "the invitation email could not be sent, so nothing was saved: {}",
            e.0
        ))
    })?;
    let view = InvitationView::from(invitation);
    if let Some(key) = &key {
        idempotency::remember(&mut tx, key, &print, &view).await?;
    }
    tx.commit().await?;
    Ok(Created::new(view))
}

/// Open invitations of the tenant (admin).
pub async fn list(state: &App, who: &Principal) -> Result<InvitationList, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let mut tx = state.store.read(&scope).await?;
    let items = invitations::list_open(&mut tx).await?;
    tx.commit().await?;
    Ok(InvitationList {
        items: items.into_iter().map(Into::into).collect(),
    })
}

/// Withdraws an open invitation (admin).
pub async fn revoke(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    id: &str,
) -> Result<(), AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let id: InvitationId = parse_id(id, "id")?;
    let mut tx = state.store.write(&scope).await?;
    invitations::revoke(&mut tx, id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound("no open invitation with this id".into()),
            other => other.into(),
        })?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("invitation.revoke", "invitation", Some(id.to_string()))
            .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Accepts an invitation and signs in: creates the account when the address
/// has none, else checks the existing account's password.
pub async fn accept(
    state: &App,
    origin: RequestOrigin,
    body: AcceptInvitation,
) -> Result<SessionView, AppError> {
    crate::identity::throttle(state, &origin)?;
    if !looks_like_session(&body.token) {
        return Err(AppError::NotFound(INVALID.into()));
    }
    let invitation = invitations::find_by_hash(&state.store, &hash_token(&body.token))
        .await?
        .filter(|i| i.is_open(Utc::now()))
        .ok_or_else(|| AppError::NotFound(INVALID.into()))?;
    let email = Email::parse(&invitation.email).map_err(AppError::Internal)?;
    let existing = users::credentials(&state.store, &email).await?;
    let new_hash = match &existing {
        Some(creds) => {
            if !verify_password(body.password, creds.password_hash.clone()).await? {
                return Err(AppError::Unauthorized(WRONG.into()));
            }
            None
        }
        None => {
            auth::password::check_strength(&body.password, email.as_str())
                .map_err(|e| AppError::field("password", e.to_string()))?;
            Some(hash_password(body.password).await?)
        }
    };
    let user_id = existing.as_ref().map(|c| c.user.id).unwrap_or_default();
    let member = Principal::member(invitation.tenant_id, user_id, invitation.role);
    let mut tx = state.store.write(&member.scope()).await?;
    let user = match (existing, new_hash) {
        (Some(creds), _) => creds.user,
        (None, Some(hash)) => {
            let local = email.as_str().split('@').next().unwrap_or("").to_string();
            let name = DisplayName::parse(body.name.as_deref().unwrap_or(&local))
                .map_err(|m| AppError::field("name", m))?;
            users::create(&mut tx, user_id, &email, &name, &hash).await?
        }
        (None, None) => {
            return Err(AppError::Internal(
                "no password hash for a new account".into(),
            ))
        }
    };
    invitations::mark_accepted(&mut tx, invitation.id)
        .await
        .map_err(|_| AppError::NotFound(INVALID.into()))?;
    memberships::add(&mut tx, user.id, invitation.role)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                AppError::Conflict("you are already a member of this tenant".into())
            }
            other => other.into(),
        })?;
    let slug = tenants::current(&mut tx).await?.slug;
    let view = open_session(
        state,
        &mut tx,
        &user,
        (invitation.tenant_id, &slug),
        invitation.role,
        origin,
        "invitation.accept",
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

/// What an open invitation offers, for the page its link opens.
pub struct OpenInvitation {
    /// The workspace's name.
    pub tenant_name: String,
    /// Who was invited.
    pub email: String,
    /// The role they get.
    pub role: Role,
}

/// Describes the open invitation behind a link token; any other token is
/// not found, with no hint why.
pub async fn describe(state: &App, token: &str) -> Result<OpenInvitation, AppError> {
    if !looks_like_session(token) {
        return Err(AppError::NotFound(INVALID.into()));
    }
    let invitation = invitations::find_by_hash(&state.store, &hash_token(token))
        .await?
        .filter(|i| i.is_open(Utc::now()))
        .ok_or_else(|| AppError::NotFound(INVALID.into()))?;
    let tenant = tenants::find(&state.store, &invitation.tenant_id.to_string())
        .await?
        .ok_or_else(|| AppError::NotFound(INVALID.into()))?;
    Ok(OpenInvitation {
        tenant_name: tenant.name,
        email: invitation.email,
        role: invitation.role,
    })
}
