//! Single sign-on in the browser: `GET /auth/sso/{provider}` sends the
//! visitor to the provider; its callback signs them in. The sign-in in
//! progress (state, nonce, PKCE verifier, where to go after) waits in a
//! short-lived HttpOnly cookie scoped to these paths.

use crate::origin::Origin;
use crate::session::{safe_next, session_cookie};
use app::{App, AppError};
use auth::sso::{PendingFlow, Sso, FLOW_LIFETIME};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use serde::Deserialize;

const FLOW_COOKIE: &str = "bzs_sso";
const FLOW_PATH: &str = "/auth/sso";

/// A provider button on the sign-in page.
pub struct ProviderLink {
    /// Path segment: `/auth/sso/{id}`.
    pub id: String,
    /// Button text.
    pub label: String,
}

/// Buttons for the configured providers; those not configured are absent.
pub fn links(sso: &Sso) -> Vec<ProviderLink> {
    sso.providers()
        .into_iter()
        .map(|(id, label)| ProviderLink { id, label })
        .collect()
}

/// Back to the sign-in page with a message.
fn to_login(message: &str) -> Response {
    let q = crate::session::encode(message);
    Redirect::to(&format!("/login?error={q}")).into_response()
}

/// Query of the start.
#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// `GET /auth/sso/{provider}`.
pub async fn start(
    State(state): State<App>,
    Extension(sso): Extension<Sso>,
    Path(provider): Path<String>,
    Query(q): Query<StartQuery>,
    jar: CookieJar,
) -> Response {
    let next = safe_next(q.next.as_deref().unwrap_or("/dashboard")).to_string();
    match sso.start(&provider, &next).await {
        Ok(started) => {
            let value = serde_json::to_vec(&started.flow).unwrap_or_default();
            let cookie = Cookie::build((
                FLOW_COOKIE,
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value),
            ))
            .path(FLOW_PATH)
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(state.config.public_url.starts_with("https://"))
            .max_age(cookie::time::Duration::seconds(
                FLOW_LIFETIME.as_secs() as i64
            ))
            .build();
            (jar.add(cookie), Redirect::to(&started.redirect)).into_response()
        }
        Err(e) => {
            tracing::warn!(provider, error = %e, "single sign-on could not start");
            if matches!(e, auth::sso::SsoError::UnknownProvider(_)) {
                return crate::render::PageError::NotFound.into_response();
            }
            to_login(&e.to_string())
        }
    }
}

/// What the provider sends back.
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/sso/{provider}/callback`.
pub async fn callback(
    State(state): State<App>,
    Extension(sso): Extension<Sso>,
    Path(provider): Path<String>,
    Query(q): Query<CallbackQuery>,
    origin: Origin,
    jar: CookieJar,
) -> Response {
    // The flow is used once, whatever happens next.
    let flow = jar.get(FLOW_COOKIE).and_then(|c| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c.value())
            .ok()?;
        serde_json::from_slice::<PendingFlow>(&bytes).ok()
    });
    let jar = jar.remove(Cookie::build(FLOW_COOKIE).path(FLOW_PATH));
    if let Some(error) = q.error {
        let why = q.error_description.unwrap_or(error);
        return (
            jar,
            to_login(&format!("The provider refused the sign-in: {why}")),
        )
            .into_response();
    }
    let Some(flow) = flow else {
        return (
            jar,
            to_login(
                "This sign-in was not started in this browser, or took too long; start again.",
            ),
        )
            .into_response();
    };
    let (Some(code), Some(returned_state)) = (q.code, q.state) else {
        return (
            jar,
            to_login("The provider's answer is missing its code or state."),
        )
            .into_response();
    };
    let who = match sso.finish(&provider, &flow, &code, &returned_state).await {
        Ok(who) => who,
        Err(e) => {
            tracing::warn!(provider, error = %e, "single sign-on refused");
            return (jar, to_login(&e.to_string())).into_response();
        }
    };
    match app::sso::sign_in(&state, origin.0, &who).await {
        Ok(view) => {
            let jar = jar.add(session_cookie(&state, view.session));
            (jar, Redirect::to(safe_next(&flow.next))).into_response()
        }
        Err(e) => {
            let detail = match e {
                AppError::Internal(m) => {
                    tracing::error!(error = %m, "single sign-on failed");
                    "the sign-in could not be completed; try again".to_string()
                }
                other => other.to_string(),
            };
            (jar, to_login(&detail)).into_response()
        }
    }
}
