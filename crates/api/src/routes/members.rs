//! Members of the caller's tenant.

use super::parse_id;
use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery, Origin};
use crate::problem::{ApiError, Problem};
use crate::routes::tokens::PageParams;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::audit::NewAuditEntry;
use domain::roles::Role;
use domain::tokens::Scope;
use domain::UserId;
use serde::{Deserialize, Serialize};
use store::{audit, memberships, sessions, StoreError, TenantTx};

/// A member as listed.
#[derive(Serialize, utoipa::ToSchema)]
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
#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberPage {
    /// Members.
    pub items: Vec<MemberView>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// The tenant's members.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, body = MemberPage),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<MemberPage>, ApiError> {
    let scope = auth.require(Scope::Read)?;
    let (limit, cursor) = super::paging(q.limit, q.cursor.as_deref())?;
    let mut tx = state.store.read(&scope).await?;
    let page = memberships::list(&mut tx, cursor, limit).await?;
    tx.commit().await?;
    Ok(Json(MemberPage {
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
    }))
}

/// A role change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    /// The new role.
    pub role: Role,
}

fn not_member(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound("no member with this id in your tenant".into()),
        other => other.into(),
    }
}

/// The caller's role decides what they may do to whom: admins manage
/// members, only owners touch owners.
fn may_manage(auth: &Auth, target_is_owner: bool, new_role: Option<Role>) -> Result<(), ApiError> {
    let touches_owner = target_is_owner || new_role == Some(Role::Owner);
    if touches_owner && !auth.is_owner() {
        return Err(ApiError::Forbidden(
            "changing owners needs the owner role".into(),
        ));
    }
    Ok(())
}

async fn ensure_not_last_owner(tx: &mut TenantTx, current: Role) -> Result<(), ApiError> {
    if current == Role::Owner && memberships::owner_count(tx).await? <= 1 {
        return Err(ApiError::Conflict(
            "the tenant's last owner cannot be removed or demoted; make someone else owner first"
                .into(),
        ));
    }
    Ok(())
}

/// Changes a member's role (admin; owners only for owners). The member's
/// sessions end, so the new role applies at once.
#[utoipa::path(patch, path = "/api/v1/members/{user_id}", tag = "members", security(("bearer" = [])), request_body = UpdateMember,
    params(("user_id" = String, Path, description = "The member's user id")),
    responses(
        (status = 200, body = MemberView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would leave the tenant without an owner", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Origin(origin): Origin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<UpdateMember>,
) -> Result<Json<MemberView>, ApiError> {
    let scope = auth.require(Scope::Admin)?;
    let user: UserId = parse_id(&user_id, "user_id")?;
    let mut tx = state.store.write(&scope).await?;
    let current = memberships::role_of(&mut tx, user)
        .await?
        .ok_or_else(|| not_member(StoreError::NotFound))?;
    may_manage(&auth, current == Role::Owner, Some(body.role))?;
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
    Ok(Json(member))
}

/// Removes a member from the tenant (admin; owners only for owners); their
/// sessions in this tenant end.
#[utoipa::path(delete, path = "/api/v1/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The member's user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would leave the tenant without an owner", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    Origin(origin): Origin,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let scope = auth.require(Scope::Admin)?;
    let user: UserId = parse_id(&user_id, "user_id")?;
    let mut tx = state.store.write(&scope).await?;
    let current = memberships::role_of(&mut tx, user)
        .await?
        .ok_or_else(|| not_member(StoreError::NotFound))?;
    may_manage(&auth, current == Role::Owner, None)?;
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
    Ok(StatusCode::NO_CONTENT)
}

async fn find(tx: &mut TenantTx, user: UserId) -> Result<MemberView, ApiError> {
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
