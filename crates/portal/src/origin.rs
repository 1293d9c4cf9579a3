//! Where a form was sent from, for the audit log and the sign-in throttle.

use app::origin::Arrival;
use app::App;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{FORWARDED, USER_AGENT};
use axum::http::request::Parts;
use domain::audit::RequestOrigin;
use std::net::SocketAddr;

/// The request's origin, as the application resolves it (trusted proxies).
pub struct Origin(pub RequestOrigin);

impl FromRequestParts<App> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Self, Self::Rejection> {
        let text = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        let arrival = Arrival {
            peer: peer.map(|c| c.0.ip()),
            forwarded: text(FORWARDED.as_str()),
            x_forwarded_for: text("x-forwarded-for"),
            user_agent: text(USER_AGENT.as_str()),
        };
        let origin = app::origin::resolve(arrival, &state.config.trusted_proxies);
        Ok(Origin(origin))
    }
}
