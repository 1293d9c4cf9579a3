//! The OpenAPI 3.1 document: the operations come from the routes as they
//! are registered ([`crate::routes`]), so the document cannot miss one; the
//! statuses every operation of a kind can answer are added in one place.

use crate::routes;
use app::App;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

/// What the document says besides its operations.
#[derive(OpenApi)]
#[openapi(
    info(title = "BizOSaaS API", description = "Multi-tenant business platform. Errors are RFC 9457 problem+json; lists page with `limit` and `cursor`; ids are UUIDv7; creating POSTs accept `Idempotency-Key`."),
    components(schemas(
        crate::problem::Problem,
        domain::validation::FieldError,
        domain::tokens::Scope,
        domain::tokens::TokenKind,
        app::audit::ExportFormat,
    )),
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
        (name = "connectors", description = "Connections to the tools a business runs, their syncs, and the synced data with write-through changes"),
        (name = "gateway", description = "The OpenAI-compatible gateway: a tenant's own apps call its models on its own keys, with an API token holding the `gateway` scope"),
    )
)]
pub struct ApiDoc;

/// The whole document: the operations of every registered route, with the
/// statuses common to their kind.
pub fn document() -> utoipa::openapi::OpenApi {
    documented(routes::api_v1(), routes::gateway()).2
}

/// The public and the given authenticated routes, the gateway's routes
/// apart, and the one document they make together.
pub(crate) fn documented(
    protected: OpenApiRouter<App>,
    gateway: OpenApiRouter<App>,
) -> (
    axum::Router<App>,
    axum::Router<App>,
    utoipa::openapi::OpenApi,
) {
    let (router, mut doc) = OpenApiRouter::<App>::with_openapi(ApiDoc::openapi())
        .merge(routes::public())
        .merge(protected)
        .split_for_parts();
    let (gateway, gateway_doc) = gateway.split_for_parts();
    doc.merge(gateway_doc);
    CommonStatuses.modify(&mut doc);
    (router, gateway, doc)
}

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

/// The statuses an operation answers because of what it is, not what it
/// does: every one may time out (503); with a bearer token, 401 and 403;
/// with a body, 400 (not JSON) and 413 (too large); with parameters, 422
/// (a malformed id, limit or cursor).
struct CommonStatuses;

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/problem+json", content)
            .build(),
    )
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| problem(description));
}

impl Modify for CommonStatuses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                add(
                    op,
                    "503",
                    "Timed out, or a dependency is unavailable; retry",
                );
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    add(op, "401", "No valid bearer token");
                    add(op, "403", "The token or role does not allow this");
                }
                if op.request_body.is_some() {
                    add(
                        op,
                        "400",
                        "The body is not JSON, or not sent as application/json",
                    );
                    add(op, "413", "The body is larger than the server accepts");
                    add(op, "422", "A field is invalid; `errors` names each");
                }
                let params = op.parameters.as_deref().unwrap_or_default();
                if params
                    .iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query))
                {
                    add(op, "422", "A parameter is malformed; `errors` names it");
                }
            }
        }
    }
}
