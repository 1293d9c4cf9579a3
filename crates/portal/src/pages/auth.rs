//! Sign-in, registration, sign-out, tenant switching and invitation
//! acceptance: forms over the API's identity handlers.

use crate::origin::Origin;
use crate::render::{inline_problem, page, Chrome, PageError};
use crate::session::{
    encode, forget_session, safe_next, session_cookie, CheckedForm, Csrf, NoFields, SignedIn,
};
use crate::sso::ProviderLink;
use app::identity::{self, ConfirmRegistration, Login, Register, SwitchTenant};
use app::invitations::{self, AcceptInvitation};
use app::App;
use askama::Template;
use auth::sso::Sso;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use axum_extra::extract::cookie::CookieJar;
use domain::validation::FieldError;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    message: Option<String>,
    email: String,
    errors: Vec<FieldError>,
    next: String,
    next_encoded: String,
    providers: Vec<ProviderLink>,
    registration_open: bool,
}

/// Query of the sign-in page.
#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
    error: Option<String>,
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

fn login_page(
    state: &App,
    sso: &Sso,
    csrf: &Csrf,
    next: &str,
    email: String,
    message: Option<String>,
    errors: Vec<FieldError>,
) -> LoginPage {
    let next = safe_next(next).to_string();
    LoginPage {
        chrome: Chrome::new("Sign in", &csrf.0, None, ""),
        message,
        email,
        errors,
        next_encoded: encode(&next),
        next,
        providers: crate::sso::links(sso),
        registration_open: state.config.registration_open,
    }
}

/// `GET /login`.
pub async fn login_form(
    State(state): State<App>,
    Extension(sso): Extension<Sso>,
    csrf: Csrf,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = q.next.unwrap_or_default();
    let message = q.error;
    page(
        StatusCode::OK,
        &login_page(&state, &sso, &csrf, &next, String::new(), message, vec![]),
    )
}

/// `POST /login`: signs in and sets the session cookie.
pub async fn login_submit(
    State(state): State<App>,
    Extension(sso): Extension<Sso>,
    csrf: Csrf,
    Origin(origin): Origin,
    jar: CookieJar,
    CheckedForm(f): CheckedForm<LoginForm>,
) -> Result<Response, PageError> {
    let body = Login {
        email: f.email.clone(),
        password: f.password,
        tenant: None,
    };
    match identity::login(&state, origin, body).await {
        Ok(view) => {
            let jar = jar.add(session_cookie(&state, view.session));
            Ok((jar, Redirect::to(safe_next(&f.next))).into_response())
        }
        Err(e) => {
            let p = inline_problem(e)?;
            let status = crate::render::status_of(p.status);
            let message = p.errors.is_empty().then_some(p.detail);
            Ok(page(
                status,
                &login_page(&state, &sso, &csrf, &f.next, f.email, message, p.errors),
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    chrome: Chrome,
    open: bool,
    message: Option<String>,
    errors: Vec<FieldError>,
    name: String,
    email: String,
    tenant_name: String,
}

/// The registration form.
#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    tenant_name: String,
}

/// `GET /register`.
pub async fn register_form(State(state): State<App>, csrf: Csrf) -> Response {
    page(
        StatusCode::OK,
        &RegisterPage {
            chrome: Chrome::new("Create account", &csrf.0, None, ""),
            open: state.config.registration_open,
            message: None,
            errors: vec![],
            name: String::new(),
            email: String::new(),
            tenant_name: String::new(),
        },
    )
}

/// `POST /register`: emails the link that creates the account.
pub async fn register_submit(
    State(state): State<App>,
    csrf: Csrf,
    Origin(origin): Origin,
    CheckedForm(f): CheckedForm<RegisterForm>,
) -> Result<Response, PageError> {
    let body = Register {
        email: f.email.clone(),
        password: f.password,
        tenant_name: f.tenant_name.clone(),
        name: (!f.name.trim().is_empty()).then(|| f.name.clone()),
    };
    match identity::register(&state, origin, body).await {
        Ok(sent) => Ok(page(
            StatusCode::ACCEPTED,
            &RegisterSent {
                chrome: Chrome::new("Check your email", &csrf.0, None, ""),
                detail: sent.detail,
            },
        )),
        Err(e) => {
            let p = inline_problem(e)?;
            let status = crate::render::status_of(p.status);
            Ok(page(
                status,
                &RegisterPage {
                    chrome: Chrome::new("Create account", &csrf.0, None, ""),
                    open: state.config.registration_open,
                    message: p.errors.is_empty().then_some(p.detail),
                    errors: p.errors,
                    name: f.name,
                    email: f.email,
                    tenant_name: f.tenant_name,
                },
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "register_sent.html")]
struct RegisterSent {
    chrome: Chrome,
    detail: String,
}

#[derive(Template)]
#[template(path = "register_confirm.html")]
struct RegisterConfirm {
    chrome: Chrome,
    token: String,
    message: Option<String>,
}

/// `GET /register/confirm?token=…`: the emailed link. It only shows a
/// button: mail scanners open links, and opening one must not act.
pub async fn confirm_form(csrf: Csrf, Query(q): Query<TokenQuery>) -> Response {
    page(
        StatusCode::OK,
        &RegisterConfirm {
            chrome: Chrome::new("Finish creating your account", &csrf.0, None, ""),
            token: q.token,
            message: None,
        },
    )
}

/// The confirmation form.
#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    token: String,
}

/// `POST /register/confirm`: creates the account and signs in.
pub async fn confirm_submit(
    State(state): State<App>,
    csrf: Csrf,
    Origin(origin): Origin,
    jar: CookieJar,
    CheckedForm(f): CheckedForm<ConfirmForm>,
) -> Result<Response, PageError> {
    let body = ConfirmRegistration {
        token: f.token.clone(),
    };
    match identity::confirm_registration(&state, origin, body).await {
        Ok(view) => {
            let jar = jar.add(session_cookie(&state, view.session));
            Ok((jar, Redirect::to("/dashboard")).into_response())
        }
        Err(e) => {
            let p = inline_problem(e)?;
            Ok(page(
                crate::render::status_of(p.status),
                &RegisterConfirm {
                    chrome: Chrome::new("Finish creating your account", &csrf.0, None, ""),
                    token: f.token,
                    message: Some(p.detail),
                },
            ))
        }
    }
}

/// `POST /logout`: ends this session and forgets the cookie.
pub async fn logout(
    State(state): State<App>,
    Origin(origin): Origin,
    jar: CookieJar,
    user: SignedIn,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    identity::logout(&state, &user.principal, origin, &user.session).await?;
    Ok((forget_session(jar), Redirect::to("/login")).into_response())
}

/// `POST /logout-all`: ends every session of the user in this workspace.
pub async fn logout_all(
    State(state): State<App>,
    Origin(origin): Origin,
    jar: CookieJar,
    user: SignedIn,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    identity::logout_all(&state, &user.principal, origin).await?;
    Ok((forget_session(jar), Redirect::to("/login")).into_response())
}

/// The tenant switcher's form.
#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    tenant: String,
}

/// `POST /switch`: a new session in another of the user's workspaces.
pub async fn switch(
    State(state): State<App>,
    Origin(origin): Origin,
    jar: CookieJar,
    user: SignedIn,
    CheckedForm(f): CheckedForm<SwitchForm>,
) -> Result<Response, PageError> {
    let body = SwitchTenant { tenant: f.tenant };
    let view = identity::switch(&state, &user.principal, origin, &user.session, body).await?;
    let jar = jar.add(session_cookie(&state, view.session));
    Ok((jar, Redirect::to("/dashboard")).into_response())
}

#[derive(Template)]
#[template(path = "accept.html")]
struct AcceptPage {
    chrome: Chrome,
    message: Option<String>,
    errors: Vec<FieldError>,
    token: String,
    tenant_name: String,
    email: String,
    role: String,
    name: String,
}

/// The invitation link's query.
#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The invitation acceptance form.
#[derive(Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

async fn accept_page(
    state: &App,
    csrf: &Csrf,
    token: &str,
    message: Option<String>,
    errors: Vec<FieldError>,
    name: String,
) -> Result<AcceptPage, PageError> {
    let open = invitations::describe(state, token).await?;
    Ok(AcceptPage {
        chrome: Chrome::new("Accept invitation", &csrf.0, None, ""),
        message,
        errors,
        token: token.to_string(),
        tenant_name: open.tenant_name,
        email: open.email,
        role: open.role.to_string(),
        name,
    })
}

/// `GET /invitations/accept?token=…`: the link from the invitation email.
pub async fn accept_form(
    State(state): State<App>,
    csrf: Csrf,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let p = accept_page(&state, &csrf, &q.token, None, vec![], String::new()).await?;
    Ok(page(StatusCode::OK, &p))
}

/// `POST /invitations/accept`: joins the workspace and signs in.
pub async fn accept_submit(
    State(state): State<App>,
    csrf: Csrf,
    Origin(origin): Origin,
    jar: CookieJar,
    CheckedForm(f): CheckedForm<AcceptForm>,
) -> Result<Response, PageError> {
    let body = AcceptInvitation {
        token: f.token.clone(),
        password: f.password,
        name: (!f.name.trim().is_empty()).then(|| f.name.clone()),
    };
    match invitations::accept(&state, origin, body).await {
        Ok(view) => {
            let jar = jar.add(session_cookie(&state, view.session));
            Ok((jar, Redirect::to("/dashboard")).into_response())
        }
        Err(e) => {
            let p = inline_problem(e)?;
            if p.status == 404 {
                return Err(PageError::NotFound);
            }
            let status = crate::render::status_of(p.status);
            let message = p.errors.is_empty().then_some(p.detail);
            let pg = accept_page(&state, &csrf, &f.token, message, p.errors, f.name).await?;
            Ok(page(status, &pg))
        }
    }
}

/// `/`: the dashboard for the signed in, sign-in for everyone else.
pub async fn root(jar: CookieJar) -> Redirect {
    if jar.get(crate::session::SESSION_COOKIE).is_some() {
        Redirect::to("/dashboard")
    } else {
        Redirect::to("/login")
    }
}
