//! Members of the caller's tenant.

use crate::auth::Auth;
use crate::extract::ApiQuery;
use crate::problem::{ApiError, Problem};
use crate::routes::tokens::PageParams;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::roles::Role;
use domain::tokens::Scope;
use domain::UserId;
use serde::Serialize;
use store::memberships;

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
