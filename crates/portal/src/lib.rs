//! The BizOSaaS web portal: server-rendered pages (askama) over the use
//! cases of [`app`], the same ones the API calls, so a page and its endpoint
//! share one path through validation, RBAC and the audit log. Sessions ride
//! in an HttpOnly cookie; every form carries a CSRF token.

mod assets;
mod chart;
mod headers;
mod nav;
mod origin;
mod pages;
mod render;
mod session;
mod sso;
mod table;

use app::App;
use axum::extract::Request;
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use pages::{
    agents, audit, auth, byok, connectors, dashboard, records, sections, settings, usage,
    workflow_runs,
};

/// The portal's pages, with their own middleware (sessions' CSRF cookie,
/// error pages, security headers), for the binary to serve beside the API.
/// Unknown paths are the portal's: a page for people, a bare 404 under the
/// API's prefixes, which the API's middleware turns into problem+json.
pub fn pages(state: App, sso: ::auth::sso::Sso) -> Router<App> {
    let mut r = Router::new()
        .route("/", get(auth::root))
        .route("/login", get(auth::login_form).post(auth::login_submit))
        .route(
            "/register",
            get(auth::register_form).post(auth::register_submit),
        )
        .route(
            "/register/confirm",
            get(auth::confirm_form).post(auth::confirm_submit),
        )
        .route("/logout", post(auth::logout))
        .route("/logout-all", post(auth::logout_all))
        .route("/switch", post(auth::switch))
        .route(
            "/invitations/accept",
            get(auth::accept_form).post(auth::accept_submit),
        )
        .route("/dashboard", get(dashboard::dashboard))
        .route("/dashboard/cards", get(dashboard::cards_fragment))
        .route("/settings", get(settings::profile))
        .route(
            "/settings/profile",
            get(settings::profile).post(settings::profile_submit),
        )
        .route("/settings/password", post(settings::password_submit))
        .route("/settings/members", get(settings::members_list))
        .route("/settings/members/invite", post(settings::invite))
        .route(
            "/settings/members/{user_id}/role",
            post(settings::member_role),
        )
        .route(
            "/settings/members/{user_id}/remove",
            post(settings::member_remove),
        )
        .route(
            "/settings/invitations/{id}/revoke",
            post(settings::invitation_revoke),
        )
        .route(
            "/settings/tokens",
            get(settings::tokens_list).post(settings::token_create),
        )
        .route("/settings/tokens/{id}/revoke", post(settings::token_revoke))
        .route("/settings/audit-log", get(audit::list))
        .route("/settings/integrations", get(settings::integrations))
        .route("/settings/billing", get(settings::billing))
        .route("/ai-agents", get(agents::list).post(agents::create))
        .route("/ai-agents/{id}", get(agents::show).post(agents::save))
        .route("/ai-agents/{id}/delete", post(agents::delete))
        .route("/ai-agents/{id}/chat", post(agents::send))
        .route(
            "/ai-agents/{id}/approvals/{approval_id}",
            post(agents::decide),
        )
        .route("/ai-agents/usage", get(usage::show))
        .route("/ai-agents/usage/budget", post(usage::set_budget))
        .route("/dashboard/connectors", get(connectors::list))
        .route("/dashboard/connectors/{id}", get(connectors::show))
        .route(
            "/dashboard/connectors/{id}/connect",
            post(connectors::connect),
        )
        .route(
            "/dashboard/connectors/{id}/sync/{resource}",
            post(connectors::sync),
        )
        .route(
            "/dashboard/connectors/{id}/schedule",
            post(connectors::schedule),
        )
        .route(
            "/dashboard/connectors/{id}/disconnect",
            post(connectors::disconnect),
        )
        .route("/ai-agents/byok", get(byok::list).post(byok::add))
        .route("/ai-agents/byok/{service}/test", post(byok::test))
        .route("/ai-agents/byok/{service}/revoke", post(byok::revoke))
        .route("/settings/audit-log/export", get(audit::export))
        .route("/workflows", get(workflow_runs::list))
        .route("/workflows/export", post(workflow_runs::start_export))
        .route("/workflows/{id}", get(workflow_runs::show))
        .route("/workflows/{id}/cancel", post(workflow_runs::cancel))
        .route("/workflows/{id}/retry", post(workflow_runs::retry))
        .route("/workflows/{id}/signal", post(workflow_runs::signal))
        .route("/auth/sso/{provider}", get(sso::start))
        .route("/auth/sso/{provider}/callback", get(sso::callback))
        .route("/assets/{name}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon));
    for tab in records::TABS {
        r = r
            .route(
                tab.href,
                if tab.href == "/content/media" {
                    get(records::list).post(records::upload)
                } else {
                    get(records::list).post(records::create)
                },
            )
            .route(
                &format!("{}/{{id}}", tab.href),
                get(records::show).post(records::save),
            )
            .route(
                &format!("{}/{{id}}/delete", tab.href),
                post(records::delete),
            );
    }
    for p in nav::pending_pages() {
        r = r.route(p.href, get(sections::pending));
    }
    for (from, to) in nav::MOVED {
        r = r.route(from, get(move || async move { Redirect::permanent(to) }));
    }
    r.fallback(fallback)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::csrf_cookie,
        ))
        .layer(middleware::from_fn(render::error_pages))
        .layer(middleware::from_fn_with_state(
            state,
            headers::security_headers,
        ))
        .layer(Extension(sso))
}

/// Unknown API paths get the API's problem+json 404; anything else a page.
async fn fallback(req: Request) -> Response {
    let path = req.uri().path();
    let api = ["/api/", "/auth/", "/metrics", "/healthz", "/readyz"]
        .iter()
        .any(|p| path.starts_with(p));
    if api {
        axum::http::StatusCode::NOT_FOUND.into_response()
    } else {
        render::PageError::NotFound.into_response()
    }
}
