//! Settings: profile and password, members and invitations, API tokens.

use crate::origin::Origin;
use crate::render::{inline_problem, page, Chrome, PageError};
use crate::session::{forget_session, CheckedForm, Csrf, NoFields, SignedIn};
use crate::table::{self, Column, SortQuery};
use app::identity::{self, ChangePassword};
use app::input::PageParams;
use app::invitations::{self, CreateInvitation, InvitationView};
use app::members::{self, MemberView, UpdateMember};
use app::profile::{self, UpdateProfile};
use app::tokens::{self, CreateToken, TokenView};
use app::{App, AppError};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use domain::roles::Role;
use domain::tokens::{Scope, TokenKind};
use domain::validation::FieldError;
use serde::Deserialize;

const ROLES: [&str; 4] = ["viewer", "member", "admin", "owner"];

#[derive(Template)]
#[template(path = "settings_profile.html")]
struct ProfilePage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    message: Option<String>,
    errors: Vec<FieldError>,
    pw_errors: Vec<FieldError>,
    name: String,
    email: String,
}

fn profile_page(user: &SignedIn, csrf: &Csrf) -> ProfilePage {
    ProfilePage {
        name: user.profile.name.clone(),
        email: user.profile.email.clone(),
        chrome: Chrome::new("Profile", &csrf.0, Some(user.profile.clone()), "settings"),
        tab: "profile",
        notice: None,
        message: None,
        errors: vec![],
        pw_errors: vec![],
    }
}

/// `GET /settings/profile`.
pub async fn profile(user: SignedIn, csrf: Csrf) -> Response {
    page(StatusCode::OK, &profile_page(&user, &csrf))
}

/// The profile form.
#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    current_password: String,
}

/// `POST /settings/profile`.
pub async fn profile_submit(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    CheckedForm(f): CheckedForm<ProfileForm>,
) -> Result<Response, PageError> {
    let body = UpdateProfile {
        name: Some(f.name.clone()),
        email: Some(f.email.clone()),
        current_password: Some(f.current_password),
    };
    let mut p = profile_page(&user, &csrf);
    match profile::update(&state, &user.principal, origin, body).await {
        Ok(profile) => {
            p.name = profile.name.clone();
            p.email = profile.email.clone();
            p.chrome.user = Some(profile);
            p.notice = Some("Profile saved.".into());
            Ok(page(StatusCode::OK, &p))
        }
        Err(e) => {
            let problem = inline_problem(e)?;
            p.name = f.name;
            p.email = f.email;
            p.message = problem.errors.is_empty().then_some(problem.detail);
            p.errors = problem.errors;
            Ok(page(crate::render::status_of(problem.status), &p))
        }
    }
}

/// The password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// `POST /settings/password`: changes it and signs out everywhere.
pub async fn password_submit(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    jar: CookieJar,
    CheckedForm(f): CheckedForm<PasswordForm>,
) -> Result<Response, PageError> {
    let body = ChangePassword {
        current_password: f.current_password,
        new_password: f.new_password,
    };
    match identity::change_password(&state, &user.principal, origin, body).await {
        Ok(_) => Ok((
            forget_session(jar),
            Redirect::to("/login?error=Your+password+was+changed.+Sign+in+with+the+new+one."),
        )
            .into_response()),
        Err(e) => {
            let problem = inline_problem(e)?;
            let mut p = profile_page(&user, &csrf);
            p.message = problem.errors.is_empty().then_some(problem.detail);
            p.pw_errors = problem.errors;
            Ok(page(crate::render::status_of(problem.status), &p))
        }
    }
}

#[derive(Template)]
#[template(path = "settings_members.html")]
struct MembersPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    message: Option<String>,
    errors: Vec<FieldError>,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationView>,
    can_manage: bool,
    invite_options: Vec<(&'static str, bool)>,
    invite_email: String,
    columns: Vec<Column>,
}

/// A member with the role choices of its row.
struct MemberRow {
    view: MemberView,
    options: Vec<(&'static str, bool)>,
}

fn role_options(current: &str) -> Vec<(&'static str, bool)> {
    ROLES.iter().map(|r| (*r, *r == current)).collect()
}

async fn members_page(state: &App, user: &SignedIn, csrf: &Csrf) -> Result<MembersPage, PageError> {
    let params = PageParams {
        limit: Some(200),
        cursor: None,
    };
    let list = members::list(state, &user.principal, params).await?;
    let can_manage = user.principal.has_scope(Scope::Admin);
    let invitations = if can_manage {
        invitations::list(state, &user.principal).await?.items
    } else {
        vec![]
    };
    Ok(MembersPage {
        chrome: Chrome::new("Members", &csrf.0, Some(user.profile.clone()), "settings"),
        tab: "members",
        notice: None,
        message: None,
        errors: vec![],
        members: list
            .items
            .into_iter()
            .map(|view| MemberRow {
                options: role_options(&view.role.to_string()),
                view,
            })
            .collect(),
        invitations,
        can_manage,
        invite_options: role_options("member"),
        columns: vec![],
        invite_email: String::new(),
    })
}

/// `GET /settings/members`.
pub async fn members_list(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    axum::extract::Query(sort): axum::extract::Query<SortQuery>,
) -> Result<Response, PageError> {
    let mut p = members_page(&state, &user, &csrf).await?;
    p.sort_by(sort);
    Ok(page(StatusCode::OK, &p))
}

const MEMBER_COLUMNS: [(&str, &str); 4] = [
    ("name", "Name"),
    ("email", "Email"),
    ("role", "Role"),
    ("joined", "Joined"),
];

impl MembersPage {
    /// Sorts the rows (a workspace's members fit one page) and marks the headers.
    fn sort_by(&mut self, q: SortQuery) {
        self.columns = table::sort(
            &mut self.members,
            "/settings/members",
            &MEMBER_COLUMNS,
            &q,
            |key, a, b| {
                let (a, b) = (&a.view, &b.view);
                match key {
                    "name" => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
                    "email" => a.email.cmp(&b.email),
                    "role" => a.role.cmp(&b.role),
                    _ => a.joined_at.cmp(&b.joined_at),
                }
            },
        );
    }
}

/// A role change.
#[derive(Deserialize)]
pub struct RoleForm {
    role: Role,
}

/// Renders the members page after an action, with its outcome.
async fn after_members_action(
    state: &App,
    user: &SignedIn,
    csrf: &Csrf,
    outcome: Result<String, AppError>,
) -> Result<Response, PageError> {
    let p = members_page(state, user, csrf).await?;
    members_outcome(p, outcome)
}

fn members_outcome(
    mut p: MembersPage,
    outcome: Result<String, AppError>,
) -> Result<Response, PageError> {
    let status = match outcome {
        Ok(notice) => {
            p.notice = Some(notice);
            StatusCode::OK
        }
        Err(e) => {
            let problem = inline_problem(e)?;
            p.message = Some(problem.detail);
            p.errors = problem.errors;
            crate::render::status_of(problem.status)
        }
    };
    Ok(page(status, &p))
}

/// `POST /settings/members/{user_id}/role`.
pub async fn member_role(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    Path(id): Path<String>,
    CheckedForm(f): CheckedForm<RoleForm>,
) -> Result<Response, PageError> {
    let change = UpdateMember { role: f.role };
    let out = members::update(&state, &user.principal, origin, &id, change)
        .await
        .map(|m| format!("{} is now {}.", m.email, m.role));
    after_members_action(&state, &user, &csrf, out).await
}

/// `POST /settings/members/{user_id}/remove`.
pub async fn member_remove(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    Path(id): Path<String>,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let out = members::remove(&state, &user.principal, origin, &id)
        .await
        .map(|_| "The member was removed.".to_string());
    after_members_action(&state, &user, &csrf, out).await
}

/// An invitation.
#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    role: Role,
}

/// `POST /settings/members/invite`.
pub async fn invite(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    CheckedForm(f): CheckedForm<InviteForm>,
) -> Result<Response, PageError> {
    let body = CreateInvitation {
        email: f.email.clone(),
        role: f.role,
    };
    let out = invitations::create(&state, &user.principal, origin, None, body)
        .await
        .map(|_| format!("An invitation was sent to {}.", f.email));
    let mut p = members_page(&state, &user, &csrf).await?;
    if out.is_err() {
        // Keep what was typed, next to the error.
        p.invite_email = f.email;
    }
    members_outcome(p, out)
}

/// `POST /settings/invitations/{id}/revoke`.
pub async fn invitation_revoke(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    Path(id): Path<String>,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let out = invitations::revoke(&state, &user.principal, origin, &id)
        .await
        .map(|_| "The invitation was withdrawn.".to_string());
    after_members_action(&state, &user, &csrf, out).await
}

#[derive(Template)]
#[template(path = "settings_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tab: &'static str,
    new_secret: Option<String>,
    message: Option<String>,
    errors: Vec<FieldError>,
    name: String,
    tokens: Vec<TokenRow>,
    columns: Vec<Column>,
    can_admin: bool,
    allowed_scopes: Vec<&'static str>,
}

const TOKEN_COLUMNS: [(&str, &str); 4] = [
    ("name", "Label"),
    ("kind", "Kind"),
    ("used", "Last used"),
    ("status", "Status"),
];

impl TokensPage {
    fn sort_by(&mut self, q: SortQuery) {
        self.columns = table::sort(
            &mut self.tokens,
            "/settings/tokens",
            &TOKEN_COLUMNS,
            &q,
            |key, a, b| match key {
                "name" => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
                "kind" => a.kind_label().cmp(b.kind_label()),
                "used" => a.last_used_at.cmp(&b.last_used_at),
                _ => a.revoked_at.is_some().cmp(&b.revoked_at.is_some()),
            },
        );
    }
}

/// A token as the table shows it.
struct TokenRow(TokenView);

impl std::ops::Deref for TokenRow {
    type Target = TokenView;
    fn deref(&self) -> &TokenView {
        &self.0
    }
}

impl TokenRow {
    fn kind_label(&self) -> &'static str {
        match self.0.kind {
            TokenKind::Personal => "personal",
            TokenKind::Tenant => "workspace",
        }
    }
    fn scopes_label(&self) -> String {
        self.0
            .scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

async fn tokens_page(state: &App, user: &SignedIn, csrf: &Csrf) -> Result<TokensPage, PageError> {
    let can_admin = user.principal.has_scope(Scope::Admin);
    let params = PageParams {
        limit: Some(200),
        cursor: None,
    };
    let list = if can_admin {
        tokens::list(state, &user.principal, params).await?
    } else {
        tokens::list_personal(state, &user.principal, params).await?
    };
    let allowed_scopes = [Scope::Read, Scope::Write, Scope::Admin, Scope::Gateway]
        .into_iter()
        .filter(|s| user.principal.may_grant(*s))
        .map(Scope::as_str)
        .collect();
    Ok(TokensPage {
        chrome: Chrome::new(
            "API tokens",
            &csrf.0,
            Some(user.profile.clone()),
            "settings",
        ),
        tab: "tokens",
        new_secret: None,
        message: None,
        errors: vec![],
        name: String::new(),
        tokens: list.items.into_iter().map(TokenRow).collect(),
        columns: vec![],
        can_admin,
        allowed_scopes,
    })
}

/// `GET /settings/tokens`.
pub async fn tokens_list(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    axum::extract::Query(sort): axum::extract::Query<SortQuery>,
) -> Result<Response, PageError> {
    let mut p = tokens_page(&state, &user, &csrf).await?;
    p.sort_by(sort);
    Ok(page(StatusCode::OK, &p))
}

/// A new token.
#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    scope: Scope,
    kind: TokenKind,
}

/// `POST /settings/tokens`: creates it and shows the secret once.
pub async fn token_create(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    CheckedForm(f): CheckedForm<TokenForm>,
) -> Result<Response, PageError> {
    let body = CreateToken {
        name: f.name.clone(),
        scopes: vec![f.scope],
    };
    let who = &user.principal;
    let created = match f.kind {
        TokenKind::Tenant => tokens::create(&state, who, origin, None, body).await,
        TokenKind::Personal => tokens::create_personal(&state, who, origin, None, body).await,
    };
    let secret = match created {
        Ok(created) => Ok(created.value.secret),
        Err(e) => Err(inline_problem(e)?),
    };
    let mut p = tokens_page(&state, &user, &csrf).await?;
    match secret {
        Ok(secret) => {
            p.new_secret = secret;
            let mut res = page(StatusCode::CREATED, &p);
            // The secret is on this page only: keep it out of every cache.
            res.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            Ok(res)
        }
        Err(problem) => {
            p.name = f.name;
            p.message = problem.errors.is_empty().then_some(problem.detail);
            p.errors = problem.errors;
            Ok(page(crate::render::status_of(problem.status), &p))
        }
    }
}

/// `POST /settings/tokens/{id}/revoke`.
pub async fn token_revoke(
    State(state): State<App>,
    user: SignedIn,
    Origin(origin): Origin,
    Path(id): Path<String>,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    if user.principal.has_scope(Scope::Admin) {
        tokens::revoke(&state, &user.principal, origin, &id).await?;
    } else {
        tokens::revoke_personal(&state, &user.principal, origin, &id).await?;
    }
    Ok(Redirect::to("/settings/tokens").into_response())
}

#[derive(Template)]
#[template(path = "settings_pending.html")]
struct SettingsPending {
    chrome: Chrome,
    tab: &'static str,
    heading: &'static str,
    holds: &'static str,
    next_step: &'static str,
    next_href: &'static str,
}

/// `GET /settings/integrations`: not built yet; says what it will hold.
pub async fn integrations(user: SignedIn, csrf: Csrf) -> Response {
    page(
        StatusCode::OK,
        &SettingsPending {
            chrome: Chrome::new("Integrations & webhooks", &csrf.0, Some(user.profile), "settings"),
            tab: "integrations",
            heading: "Integrations & webhooks",
            holds: "Outgoing webhooks (this workspace's events, signed and sent to your URL) and the integrations that call BizOSaaS will be set up here.",
            next_step: "An integration can already call the API with a token",
            next_href: "/settings/tokens",
        },
    )
}

/// `GET /settings/billing`: not built yet; says what it will hold.
pub async fn billing(user: SignedIn, csrf: Csrf) -> Response {
    page(
        StatusCode::OK,
        &SettingsPending {
            chrome: Chrome::new("Billing", &csrf.0, Some(user.profile), "settings"),
            tab: "billing",
            heading: "Billing",
            holds: "Your plan, this month's usage (LLM tokens on your own keys, records synced, documents indexed) and invoices will show here.",
            next_step: "LLM usage runs on your own provider keys",
            next_href: "/ai-agents/byok",
        },
    )
}
