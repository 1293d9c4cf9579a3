//! Handlers, one module per resource.

pub mod audit_logs;
pub mod auth;
pub mod docs;
pub mod health;
pub mod invitations;
pub mod me;
pub mod members;
pub mod tenant;
pub mod tokens;
pub mod vault_keys;
pub mod workflow_runs;

use app::App;
use axum::routing::get;
use axum::Router;

/// The authenticated `/api/v1` routes.
pub fn api_v1() -> Router<App> {
    Router::new()
        .route("/api/v1/audit-logs", get(audit_logs::list))
        .route("/api/v1/members", get(members::list))
        .route(
            "/api/v1/invitations",
            get(invitations::list).post(invitations::create),
        )
        .route(
            "/api/v1/invitations/{id}",
            axum::routing::delete(invitations::revoke),
        )
        .route(
            "/api/v1/members/{user_id}",
            axum::routing::patch(members::update).delete(members::remove),
        )
        .route("/auth/logout-all", axum::routing::post(auth::logout_all))
        .route("/auth/switch", axum::routing::post(auth::switch))
        .route(
            "/api/v1/me/password",
            axum::routing::post(auth::change_password),
        )
        .route("/auth/logout", axum::routing::post(auth::logout))
        .route("/api/v1/tenant", get(tenant::get).patch(tenant::update))
        .route("/api/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/api/v1/me", get(me::get).patch(me::update))
        .route(
            "/api/v1/me/tokens",
            get(tokens::list_personal).post(tokens::create_personal),
        )
        .route(
            "/api/v1/me/tokens/{id}",
            axum::routing::delete(tokens::revoke_personal),
        )
        .route(
            "/api/v1/tokens/{id}",
            get(tokens::get).delete(tokens::revoke),
        )
        .route("/api/v1/vault/keys", get(vault_keys::list))
        .route(
            "/api/v1/vault/keys/{service}",
            axum::routing::post(vault_keys::add).delete(vault_keys::revoke),
        )
        .route(
            "/api/v1/vault/keys/{service}/test",
            axum::routing::post(vault_keys::test),
        )
        .route(
            "/api/v1/workflows",
            get(workflow_runs::list).post(workflow_runs::start),
        )
        .route("/api/v1/workflows/{id}", get(workflow_runs::get))
        .route(
            "/api/v1/workflows/{id}/cancel",
            axum::routing::post(workflow_runs::cancel),
        )
        .route(
            "/api/v1/workflows/{id}/retry",
            axum::routing::post(workflow_runs::retry),
        )
        .route(
            "/api/v1/workflows/{id}/signal",
            axum::routing::post(workflow_runs::signal),
        )
}
