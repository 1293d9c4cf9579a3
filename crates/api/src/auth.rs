//! Bearer authentication: API tokens (`bzs_…`) and session tokens (`bzss_…`).
//!
//! Every route of the protected router passes through [`require_token`]; the
//! handler then reads the [`Auth`] it left behind. Resolving the token (and
//! its cache) belongs to the application: [`app::access::resolve`].

use crate::problem::ApiError;
use app::{App, AppError};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use domain::Principal;

/// The bearer token of a request, checked for its scheme.
pub fn bearer(headers: &HeaderMap) -> Result<&str, AppError> {
    let header = headers.get(AUTHORIZATION).ok_or_else(|| {
        AppError::Unauthorized("send an API token as `Authorization: Bearer <token>`".into())
    })?;
    let value = header
        .to_str()
        .map_err(|_| AppError::Unauthorized("the Authorization header is not ASCII".into()))?;
    let token = value
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        .map(|_| &value[7..])
        .ok_or_else(|| {
            AppError::Unauthorized("the Authorization header must use the Bearer scheme".into())
        })?;
    Ok(token.trim())
}

/// Middleware: refuses requests without a valid bearer token.
pub async fn require_token(
    State(state): State<App>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = bearer(req.headers())?;
    let principal = app::access::resolve(&state, token).await?;
    tracing::Span::current().record("tenant.id", tracing::field::display(principal.tenant()));
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}

/// The authenticated caller of a protected route.
#[derive(Clone, Debug)]
pub struct Auth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Auth)
            .ok_or_else(|| {
                AppError::Internal("route is missing the authentication layer".into()).into()
            })
    }
}

/// The bearer token the request was authenticated with (for the operations
/// on the session itself: sign-out, switching tenants).
pub struct Presented(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Presented {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Presented(bearer(&parts.headers)?.to_string()))
    }
}
