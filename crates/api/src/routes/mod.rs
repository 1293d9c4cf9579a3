//! Handlers, one module per resource.

pub mod agents;
pub mod audit_logs;
pub mod auth;
pub mod chat;
pub mod connectors;
pub mod docs;
pub mod gateway;
pub mod health;
pub mod invitations;
pub mod me;
pub mod members;
pub mod tenant;
pub mod tokens;
pub mod usage;
pub mod vault_keys;
pub mod workflow_runs;

use app::App;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The public operations (no bearer token), each registered once: with its
/// route and its place in the OpenAPI document.
pub fn public() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(auth::register))
        .routes(routes!(auth::confirm_registration))
        .routes(routes!(auth::login))
        .routes(routes!(invitations::accept))
}

/// The authenticated operations, registered the same way.
pub fn api_v1() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(audit_logs::list))
        .routes(routes!(members::list))
        .routes(routes!(members::update, members::remove))
        .routes(routes!(invitations::list, invitations::create))
        .routes(routes!(invitations::revoke))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(auth::switch))
        .routes(routes!(auth::change_password))
        .routes(routes!(tenant::get, tenant::update))
        .routes(routes!(me::get, me::update))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::get, tokens::revoke))
        .routes(routes!(tokens::list_personal, tokens::create_personal))
        .routes(routes!(tokens::revoke_personal))
        .routes(routes!(vault_keys::list))
        .routes(routes!(vault_keys::add, vault_keys::revoke))
        .routes(routes!(vault_keys::test))
        .routes(routes!(workflow_runs::list, workflow_runs::start))
        .routes(routes!(workflow_runs::get))
        .routes(routes!(workflow_runs::cancel))
        .routes(routes!(workflow_runs::retry))
        .routes(routes!(workflow_runs::signal))
        .routes(routes!(agents::templates))
        .routes(routes!(agents::list, agents::create))
        .routes(routes!(agents::get, agents::update, agents::delete))
        .routes(routes!(agents::config, agents::set_config))
        .routes(routes!(chat::send))
        .routes(routes!(chat::list))
        .routes(routes!(chat::get, chat::delete))
        .routes(routes!(chat::approve))
        .routes(routes!(chat::reject))
        .routes(routes!(usage::report))
        .routes(routes!(usage::budget, usage::set_budget))
        .routes(routes!(connectors::list))
        .routes(routes!(connectors::show))
        .routes(routes!(connectors::connect, connectors::disconnect))
        .routes(routes!(connectors::schedule))
        .routes(routes!(connectors::sync))
        .routes(routes!(connectors::data, connectors::create))
        .routes(routes!(
            connectors::get,
            connectors::update,
            connectors::delete
        ))
}

/// The OpenAI-compatible gateway (`/v1`), authenticated like the API but
/// served behind a lighter middleware stack (see [`crate::app_router`]).
pub fn gateway() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(gateway::chat_completions))
        .routes(routes!(gateway::embeddings))
        .routes(routes!(gateway::models))
}
