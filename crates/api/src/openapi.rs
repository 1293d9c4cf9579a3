//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use crate::routes::{
    audit_logs, auth, health, invitations, me, members, tenant, tokens, vault_keys, workflow_runs,
};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API description served at `/api/v1/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "BizOSaaS API", description = "Multi-tenant business platform. Errors are RFC 9457 problem+json; lists page with `limit` and `cursor`; ids are UUIDv7; creating POSTs accept `Idempotency-Key`."),
    paths(
        health::healthz, health::readyz,
        audit_logs::list,
        auth::register, auth::confirm_registration, auth::login, auth::logout, auth::logout_all, auth::switch, auth::change_password,
        me::get, me::update,
        members::list, members::update, members::remove,
        invitations::create, invitations::list, invitations::revoke, invitations::accept,
        tenant::get, tenant::update,
        tokens::create, tokens::list, tokens::get, tokens::revoke,
        tokens::create_personal, tokens::list_personal, tokens::revoke_personal,
        vault_keys::add, vault_keys::list, vault_keys::test, vault_keys::revoke,
        workflow_runs::start, workflow_runs::list, workflow_runs::get, workflow_runs::cancel, workflow_runs::retry, workflow_runs::signal,
    ),
    components(schemas(crate::problem::Problem, domain::validation::FieldError, domain::tokens::Scope, domain::tokens::TokenKind)),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Registration, sign-in and sign-out"),
        (name = "members", description = "Members of the tenant"),
        (name = "audit", description = "The tenant's audit log"),
        (name = "tenant", description = "The caller's tenant"),
        (name = "tokens", description = "API tokens"),
        (name = "byok", description = "The tenant's own LLM provider keys, kept in the secret store"),
        (name = "workflows", description = "Durable workflow runs: start, watch, cancel, retry"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}
