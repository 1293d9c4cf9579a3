//! Portal sessions in cookies, and the CSRF token every form carries.
//!
//! The session cookie holds the same opaque session token the API accepts as
//! a bearer, so one resolver checks both. It is HttpOnly and SameSite=Lax
//! (Secure when the public address is https). Every state-changing form also
//! carries a CSRF token: an HMAC of the browser's CSRF cookie keyed with its
//! session token. A page on another site can make the browser send both
//! cookies but read neither; and one who can plant a CSRF cookie (from a
//! sibling subdomain) still cannot make a token for the victim's session,
//! which they do not know. Over https the cookie is `__Host-` prefixed, so
//! no subdomain can set it at all.

use crate::render::PageError;
use app::{App, AppError};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use domain::Principal;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The session cookie.
pub const SESSION_COOKIE: &str = "bzs_session";
/// The CSRF cookie over plain http (development).
pub const CSRF_COOKIE: &str = "bzs_csrf";
/// The CSRF cookie over https: only this host may set it, only securely.
pub const CSRF_COOKIE_HOST: &str = "__Host-bzs_csrf";

/// The request's CSRF token for its forms: bound to the CSRF cookie (sent,
/// or minted for this response) and to the session, if any.
#[derive(Clone, Debug)]
pub struct Csrf(pub String);

/// The form token of a CSRF cookie value and a session token (empty when
/// signed out): HMAC-SHA256 keyed with the session.
fn form_token(cookie: &str, session: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(session.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(b"bizosaas csrf v1\0");
    mac.update(cookie.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

impl Csrf {
    /// Accepts a submitted form only if its token is this request's.
    pub fn check(&self, submitted: &str, had_cookie: bool) -> Result<(), PageError> {
        let same = self.0.as_bytes().ct_eq(submitted.as_bytes()).into();
        if had_cookie && same && !submitted.is_empty() {
            Ok(())
        } else {
            Err(PageError::Csrf)
        }
    }
}

/// Whether the request arrived with a CSRF cookie (a form post without one
/// cannot be genuine).
#[derive(Clone, Copy, Debug)]
struct HadCsrfCookie(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Csrf {
    type Rejection = PageError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Csrf>()
            .cloned()
            .ok_or_else(|| PageError::Internal("the CSRF layer is missing".into()))
    }
}

/// Middleware: gives every visitor a CSRF cookie and every handler the
/// form token of its cookie and session.
pub async fn csrf_cookie(
    State(state): State<App>,
    jar: CookieJar,
    mut req: Request,
    next: Next,
) -> Response {
    let https = state.config.public_url.starts_with("https://");
    let name = if https { CSRF_COOKIE_HOST } else { CSRF_COOKIE };
    let existing = jar
        .get(name)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == 43);
    let had = existing.is_some();
    let token = existing.unwrap_or_else(|| {
        let bytes: [u8; 32] = rand::random();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    });
    let session = jar.get(SESSION_COOKIE).map(|c| c.value()).unwrap_or("");
    req.extensions_mut()
        .insert(Csrf(form_token(&token, session)));
    req.extensions_mut().insert(HadCsrfCookie(had));
    let mut res = next.run(req).await;
    if !had {
        let cookie = Cookie::build((name, token))
            .path("/")
            .http_only(true)
            .secure(https)
            .same_site(SameSite::Lax)
            .build();
        if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
            res.headers_mut().append(axum::http::header::SET_COOKIE, v);
        }
    }
    res
}

/// The CSRF check of a multipart form (an upload), whose token arrives
/// among its fields rather than before them.
pub struct CsrfGuard {
    csrf: Csrf,
    had_cookie: bool,
}

impl CsrfGuard {
    /// Checks the token the form carried.
    pub fn check(&self, submitted: &str) -> Result<(), PageError> {
        self.csrf.check(submitted, self.had_cookie)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfGuard {
    type Rejection = PageError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let csrf = Csrf::from_request_parts(parts, state).await?;
        let had_cookie = parts.extensions.get::<HadCsrfCookie>().is_some_and(|h| h.0);
        Ok(Self { csrf, had_cookie })
    }
}

/// A submitted form whose CSRF token has been checked against the cookie:
/// the one place every state-changing form is guarded.
pub struct CheckedForm<T>(pub T);

/// A form with nothing but its CSRF token.
#[derive(serde::Deserialize)]
pub struct NoFields {}

#[derive(serde::Deserialize)]
struct Token {
    #[serde(default)]
    csrf: String,
}

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S>
    for CheckedForm<T>
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let csrf = req.extensions().get::<Csrf>().cloned();
        let had = req.extensions().get::<HadCsrfCookie>().is_some_and(|h| h.0);
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let token: Token =
            serde_urlencoded::from_bytes(&body).map_err(|_| PageError::Csrf.into_response())?;
        let csrf = csrf.ok_or_else(|| {
            PageError::Internal("the CSRF layer is missing".into()).into_response()
        })?;
        csrf.check(&token.csrf, had)
            .map_err(IntoResponse::into_response)?;
        serde_urlencoded::from_bytes(&body)
            .map(CheckedForm)
            .map_err(|e| {
                (
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    format!("the form is malformed: {e}"),
                )
                    .into_response()
            })
    }
}

/// The session cookie for a new session.
pub fn session_cookie(state: &App, token: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.public_url.starts_with("https://"))
        .max_age(time_from(state.config.session_lifetime))
        .build()
}

fn time_from(d: chrono::TimeDelta) -> cookie::time::Duration {
    cookie::time::Duration::seconds(d.num_seconds())
}

/// A cookie jar that forgets the session.
pub fn forget_session(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(SESSION_COOKIE).path("/"))
}

/// A visitor with a valid session cookie.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// Who they are in which tenant.
    pub principal: Principal,
    /// The session token (to end it on sign-out).
    pub session: String,
    /// Their profile and tenants.
    pub profile: app::profile::Profile,
}

impl FromRequestParts<App> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let to_login = || to_login(parts);
        let Some(session) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Err(to_login());
        };
        let principal = match app::access::resolve(state, &session).await {
            Ok(p) => p,
            // A forged or ended session cookie: back to sign-in, cookie dropped.
            Err(AppError::Unauthorized(_)) => {
                return Err((forget_session(jar), to_login()).into_response())
            }
            Err(e) => return Err(PageError::from(e).into_response()),
        };
        let (Some(user), Some(role)) = (principal.actor().user_id(), principal.role()) else {
            return Err(to_login());
        };
        let profile = app::profile::load(state, user, role, principal.tenant())
            .await
            .map_err(|e| PageError::from(e).into_response())?;
        Ok(SignedIn {
            principal,
            session,
            profile,
        })
    }
}

/// Sends the visitor to sign in, then back to where they were going. An htmx
/// request is told to navigate (a redirect would be swapped into the page).
fn to_login(parts: &Parts) -> Response {
    let here = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let target = format!("/login?next={}", encode(here));
    if parts.headers.contains_key("hx-request") {
        let mut res = axum::http::StatusCode::UNAUTHORIZED.into_response();
        if let Ok(v) = HeaderValue::from_str(&target) {
            res.headers_mut().insert("hx-redirect", v);
        }
        return res;
    }
    Redirect::to(&target).into_response()
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Where to go after signing in: only a path-absolute reference on this
/// site. Browsers drop tabs and newlines and read `\\` as `/`, so `/<TAB>/x`
/// or `/\\x` would leave for host `x`; control characters would also break
/// the `Location` header. Anything doubtful goes to the dashboard.
pub fn safe_next(next: &str) -> &str {
    let second = next.get(1..).unwrap_or("");
    let local = next.starts_with('/')
        && !second.starts_with('/')
        && next.len() <= 2048
        && !next.chars().any(|c| c.is_control() || c == '\\')
        // A slash or backslash percent-encoded right after the first one
        // turns into `//host` behind a proxy that decodes paths.
        && !second
            .get(..3)
            .is_some_and(|s| s.eq_ignore_ascii_case("%2f") || s.eq_ignore_ascii_case("%5c"));
    if local {
        next
    } else {
        "/dashboard"
    }
}
