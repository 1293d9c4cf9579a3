//! Members of the caller's tenant.

use crate::input::{parse_id, PageParams};
use crate::{access, App, AppError};
use chrono::{DateTime, Utc};
use domain::audit::NewAuditEntry;
use domain::audit::RequestOrigin;
use domain::roles::Role;
use domain::tokens::Scope;
use domain::Principal;
use domain::UserId;
use serde::{Deserialize, Serialize};
use store::{audit, memberships, sessions, StoreError, TenantTx};

/// A member as listed.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberView {
    /// The user.
    pub user_id: UserId,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Role in this tenant.
    pub role: Role,
    /// Joined (UTC).
    pub joined_at: DateTime<Utc>,
}

/// A page of members.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberPage {
    /// Members.
    pub items: Vec<MemberView>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// The tenant's members.
pub async fn list(state: &App, who: &Principal, q: PageParams) -> Result<MemberPage, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let (limit, cursor) = crate::input::paging(q.limit, q.cursor.as_deref())?;
    let mut tx = state.store.read(&scope).await?;
    let page = memberships::list(&mut tx, cursor, limit).await?;
    tx.commit().await?;
    Ok(MemberPage {
        items: page
            .items
            .into_iter()
            .map(|m| MemberView {
                user_id: m.user_id,
                email: m.email,
                name: m.name,
                role: m.role,
                joined_at: m.created_at,
            })
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// A role change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    /// The new role.
    pub role: Role,
}

fn not_member(e: StoreError) -> AppError {
    match e {
        StoreError::NotFound => AppError::NotFound("no member with this id in your tenant".into()),
        other => other.into(),
    }
}

/// The caller's role decides what they may do to whom: admins manage
/// members, only owners touch owners.
fn may_manage(
    who: &Principal,
    target_is_owner: bool,
    new_role: Option<Role>,
) -> Result<(), AppError> {
    let touches_owner = target_is_owner || new_role == Some(Role::Owner);
    if touches_owner && !who.is_owner() {
        return Err(AppError::Forbidden(
            "changing owners needs the owner role".into(),
        ));
    }
    Ok(())
}

async fn ensure_not_last_owner(tx: &mut TenantTx, current: Role) -> Result<(), AppError> {
    if current == Role::Owner && memberships::owner_count(tx).await? <= 1 {
        return Err(AppError::Conflict(
            "the tenant's last owner cannot be removed or demoted; make someone else owner first"
                .into(),
        ));
    }
    Ok(())
}

/// The member an admin is about to change, in a write transaction: their
/// id and current role.
async fn open_membership(
    state: &App,
    who: &Principal,
    user_id: &str,
) -> Result<(store::TenantTx, UserId, Role), AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let user: UserId = parse_id(user_id, "user_id")?;
    let mut tx = state.store.write(&scope).await?;
    let current = memberships::role_of(&mut tx, user)
        .await?
        .ok_or_else(|| not_member(StoreError::NotFound))?;
    Ok((tx, user, current))
}

/// Changes a member's role (admin; owners only for owners). The member's
/// sessions end, so the new role applies at once.
pub async fn update(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    user_id: &str,
    body: UpdateMember,
) -> Result<MemberView, AppError> {
    let (mut tx, user, current) = open_membership(state, who, user_id).await?;
    may_manage(who, current == Role::Owner, Some(body.role))?;
    if body.role != Role::Owner {
        ensure_not_last_owner(&mut tx, current).await?;
    }
    memberships::set_role(&mut tx, user, body.role)
        .await
        .map_err(not_member)?;
    let ended = sessions::revoke_all_of_user(&mut tx, user).await?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("member.role_change", "membership", Some(user.to_string()))
            .with_metadata(
                serde_json::json!({ "from": current, "to": body.role, "sessions_ended": ended }),
            )
            .from_origin(origin),
    )
    .await?;
    let member = find(&mut tx, user).await?;
    tx.commit().await?;
    state.tokens.evict_user(user);
    Ok(member)
}

/// Removes a member from the tenant (admin; owners only for owners); their
/// sessions in this tenant end.
pub async fn remove(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    user_id: &str,
) -> Result<(), AppError> {
    let (mut tx, user, current) = open_membership(state, who, user_id).await?;
    may_manage(who, current == Role::Owner, None)?;
    ensure_not_last_owner(&mut tx, current).await?;
    let ended = sessions::revoke_all_of_user(&mut tx, user).await?;
    memberships::remove(&mut tx, user)
        .await
        .map_err(not_member)?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("member.remove", "membership", Some(user.to_string()))
            .with_metadata(serde_json::json!({ "role": current, "sessions_ended": ended }))
            .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    state.tokens.evict_user(user);
    Ok(())
}

async fn find(tx: &mut TenantTx, user: UserId) -> Result<MemberView, AppError> {
    let m = memberships::get(tx, user)
        .await?
        .ok_or_else(|| not_member(StoreError::NotFound))?;
    Ok(MemberView {
        user_id: m.user_id,
        email: m.email,
        name: m.name,
        role: m.role,
        joined_at: m.created_at,
    })
}
