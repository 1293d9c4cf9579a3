//! Registration, sign-in and sign-out with email and password.

use crate::auth::{Auth, Presented};
use crate::extract::{ApiJson, Origin};
use crate::problem::{ApiError, Problem};
use app::identity::{
    self, ChangePassword, ConfirmRegistration, Login, Register, RegistrationSent, SessionView,
    SwitchTenant,
};
use app::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

/// Starts a registration: emails a link that creates the account and its
/// tenant (the user becomes owner). The answer is the same whether or not
/// the email already has an account or the workspace name is taken (the
/// mailbox is told so instead), so registering reveals neither.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = Register, responses(
    (status = 202, description = "A link was emailed; follow it to finish", body = RegistrationSent),
    (status = 403, description = "Registration is by invitation only", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "Too many attempts from this address", body = Problem, content_type = "application/problem+json"),
    (status = 503, description = "The email could not be sent; nothing was kept", body = Problem, content_type = "application/problem+json"),
))]
pub async fn register(
    State(state): State<App>,
    Origin(origin): Origin,
    ApiJson(body): ApiJson<Register>,
) -> Result<(StatusCode, Json<RegistrationSent>), ApiError> {
    let sent = identity::register(&state, origin, body).await?;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

/// Finishes a registration from its email link: creates the account, its
/// tenant (the user becomes owner) and a session.
#[utoipa::path(post, path = "/auth/register/confirm", tag = "auth", request_body = ConfirmRegistration, responses(
    (status = 201, body = SessionView),
    (status = 404, description = "The link is invalid, used or expired", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The email or tenant name was taken meanwhile", body = Problem, content_type = "application/problem+json"),
))]
pub async fn confirm_registration(
    State(state): State<App>,
    Origin(origin): Origin,
    ApiJson(body): ApiJson<ConfirmRegistration>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let session = identity::confirm_registration(&state, origin, body).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Signs in with email and password; returns a session token.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = Login, responses(
    (status = 200, body = SessionView),
    (status = 401, description = "Wrong email or password, or the account is locked (the answer is the same)", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "Too many attempts from this address", body = Problem, content_type = "application/problem+json"),
))]
pub async fn login(
    State(state): State<App>,
    Origin(origin): Origin,
    ApiJson(body): ApiJson<Login>,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(identity::login(&state, origin, body).await?))
}

/// Ends the session sent as the bearer token.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "Signed out"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "The bearer is an API token, not a session", body = Problem, content_type = "application/problem+json"),
))]
pub async fn logout(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Presented(token): Presented,
) -> Result<StatusCode, ApiError> {
    identity::logout(&state, &who, origin, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the signed-in user in this tenant ("log out everywhere").
#[utoipa::path(post, path = "/auth/logout-all", tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "All sessions ended"),
    (status = 422, description = "The bearer is an API token, not a user", body = Problem, content_type = "application/problem+json"),
))]
pub async fn logout_all(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
) -> Result<StatusCode, ApiError> {
    identity::logout_all(&state, &who, origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Switches the signed-in user to another of their tenants: a new session
/// there replaces the current one.
#[utoipa::path(post, path = "/auth/switch", tag = "auth", security(("bearer" = [])), request_body = SwitchTenant, responses(
    (status = 200, body = SessionView),
    (status = 404, description = "The user belongs to no tenant with this slug", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn switch(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Presented(token): Presented,
    ApiJson(body): ApiJson<SwitchTenant>,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(
        identity::switch(&state, &who, origin, &token, body).await?,
    ))
}

/// Changes the signed-in user's password and ends all their sessions, this
/// one included: sign in again with the new password.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", security(("bearer" = [])), request_body = ChangePassword, responses(
    (status = 204, description = "Changed; every session ended"),
    (status = 401, description = "The current password is wrong", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn change_password(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    identity::change_password(&state, &who, origin, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
