//! Invitations: admins invite by email address with a role; the person
//! follows a one-time link and joins.

use crate::auth::Auth;
use crate::extract::{ApiJson, Origin};
use crate::idempotency::{created, IdempotencyKey};
use crate::problem::{ApiError, Problem};
use app::identity::SessionView;
use app::invitations::{self, AcceptInvitation, CreateInvitation, InvitationList, InvitationView};
use app::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;

/// Invites someone (admin; inviting an owner needs the owner role). The
/// email is sent before the invitation is stored: if it cannot be sent,
/// nothing is kept.
#[utoipa::path(post, path = "/api/v1/invitations", tag = "members", security(("bearer" = [])), request_body = CreateInvitation,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retried invite returns the first result and sends no second email")),
    responses(
    (status = 201, body = InvitationView),
    (status = 409, description = "Already a member", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 503, description = "The email could not be sent", body = Problem, content_type = "application/problem+json"),
))]
pub async fn create(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<CreateInvitation>,
) -> Result<Response, ApiError> {
    Ok(created(
        invitations::create(&state, &who, origin, key, body).await?,
    ))
}

/// Open invitations of the tenant (admin).
#[utoipa::path(get, path = "/api/v1/invitations", tag = "members", security(("bearer" = [])), responses((status = 200, body = InvitationList)))]
pub async fn list(
    State(state): State<App>,
    Auth(who): Auth,
) -> Result<Json<InvitationList>, ApiError> {
    Ok(Json(invitations::list(&state, &who).await?))
}

/// Withdraws an open invitation (admin).
#[utoipa::path(delete, path = "/api/v1/invitations/{id}", tag = "members", security(("bearer" = [])),
    params(("id" = String, Path, description = "Invitation id")),
    responses((status = 204, description = "Withdrawn"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    invitations::revoke(&state, &who, origin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepts an invitation and signs in: creates the account when the address
/// has none, else checks the existing account's password.
#[utoipa::path(post, path = "/auth/invitations/accept", tag = "auth", request_body = AcceptInvitation, responses(
    (status = 201, body = SessionView),
    (status = 401, description = "Wrong password for the existing account", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "The link is invalid, used, withdrawn or expired", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "Too many attempts from this address", body = Problem, content_type = "application/problem+json"),
))]
pub async fn accept(
    State(state): State<App>,
    Origin(origin): Origin,
    ApiJson(body): ApiJson<AcceptInvitation>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let session = invitations::accept(&state, origin, body).await?;
    Ok((StatusCode::CREATED, Json(session)))
}
