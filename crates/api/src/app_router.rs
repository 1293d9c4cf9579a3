//! Assembly of the router and its middleware.

use crate::problem::{Problem, PROBLEM_JSON};
use crate::request_id::MakeRequestUuidV7;
use crate::{auth, metrics, routes};
use ::app::App;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower::layer::util::Identity;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// The API alone: public endpoints, the authenticated API, the gateway,
/// and the middleware every request passes through; anything else is a 404
/// problem.
pub fn router(state: App) -> Router {
    let (api, gateway) = api_routes(state.clone());
    with_gateway(
        state.clone(),
        gateway,
        assemble(state, api.fallback(not_found)),
    )
}

/// The API together with other routes (the portal's pages), behind the same
/// middleware. `pages` owns the fallback, so it decides what an unknown path
/// gets; responses it sends as HTML are left as they are.
pub fn router_with(state: App, pages: Router<App>) -> Router {
    let (api, gateway) = api_routes(state.clone());
    with_gateway(state.clone(), gateway, assemble(state, api.merge(pages)))
}

/// The problem+json 404 of the API, for a fallback that serves API paths.
pub async fn not_found() -> Problem {
    Problem::for_status(StatusCode::NOT_FOUND)
}

/// The API's routes, and the gateway's apart.
fn api_routes(state: App) -> (Router<App>, Router<App>) {
    let auth = middleware::from_fn_with_state(state, auth::require_token);
    let protected = routes::api_v1().route_layer(auth.clone());
    let gateway = routes::gateway().route_layer(auth);
    let (documented, gateway, doc) = crate::openapi::documented(protected, gateway);
    routes::docs::install(doc);
    let api = documented
        .route("/metrics", get(metrics::handler))
        .route("/api/v1/openapi.json", get(routes::docs::openapi_json))
        .route("/api/docs", get(routes::docs::reference));
    (api, gateway)
}

/// `/v1/…` goes to the gateway behind a lighter stack than the rest: a
/// tenant's apps call it thousands of times a second, and each layer
/// costs every call. It keeps what a caller sees (request ids, problem
/// bodies, the body limit, the timeout, panics caught) and the metrics; it
/// leaves out the per-request trace span and its log line.
fn with_gateway(state: App, gateway: Router<App>, rest: Router) -> Router {
    let gateway = with_middleware!(
        gateway.fallback(not_found),
        state,
        Identity::new(),
        Identity::new()
    );
    // axum refuses a `Router` as a route's service (it wants `nest`, which
    // would strip the `/v1` the routes are matched on); wrapped, it is a
    // plain service.
    let gateway = tower::ServiceExt::map_request(gateway, std::convert::identity::<Request>);
    Router::new()
        .route_service("/v1", gateway.clone())
        .route_service("/v1/{*rest}", gateway)
        .fallback_service(rest)
}

fn assemble(state: App, routes: Router<App>) -> Router {
    let hide = SetSensitiveRequestHeadersLayer::new([
        axum::http::header::AUTHORIZATION,
        axum::http::header::COOKIE,
    ]);
    let trace = TraceLayer::new_for_http()
        .make_span_with(span_for)
        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO));
    with_middleware!(routes, state, hide, trace)
}

/// The middleware of every route: the body limit, metrics, a safe request
/// id, problem bodies for every error, panics and timeouts as problems;
/// `$hide` and `$trace` are the per-request span (and the credentials
/// hidden from it), or `Identity` for none. A macro, as the stack's type
/// changes with them.
macro_rules! with_middleware {
    ($routes:expr, $state:expr, $hide:expr, $trace:expr) => {{
        let state: App = $state;
        $routes
            .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
            .layer(middleware::from_fn_with_state(
                state.clone(),
                metrics::track,
            ))
            .layer(
                ServiceBuilder::new()
                    .layer($hide)
                    .layer(middleware::from_fn(drop_unsafe_request_id))
                    .layer(SetRequestIdLayer::x_request_id(MakeRequestUuidV7))
                    .layer(PropagateRequestIdLayer::x_request_id())
                    .layer($trace)
                    .layer(middleware::from_fn(problems_everywhere))
                    .layer(CatchPanicLayer::custom(|_| {
                        Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR).into_response()
                    }))
                    .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                        Problem::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "timeout",
                            "Request timed out",
                            "the request took too long; retry it",
                        )
                    }))
                    .timeout(state.config.request_timeout),
            )
            .with_state(state)
    }};
}
use with_middleware;

fn span_for(req: &Request) -> tracing::Span {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        request_id = crate::request_id::of(req).unwrap_or(""),
        method = %req.method(),
        path = %req.uri().path(),
        route,
        tenant.id = tracing::field::Empty,
    )
}

/// A client-sent request id is kept only if it is short and plain, so it can
/// go into logs and headers safely.
async fn drop_unsafe_request_id(mut req: Request, next: Next) -> Response {
    let ok = crate::request_id::of(&req).is_some_and(|v| {
        (1..=128).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    });
    if !ok {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// Every error response leaves as problem+json carrying the request id, even
/// those made by axum or tower (405, 413, timeouts) rather than by a handler.
async fn problems_everywhere(req: Request, next: Next) -> Response {
    let request_id = crate::request_id::of(&req).map(str::to_string);
    let res = next.run(req).await;
    let status = res.status();
    let html = res
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (mut parts, _body) = res.into_parts();
    let mut problem = parts
        .extensions
        .remove::<Problem>()
        .unwrap_or_else(|| Problem::for_status(status));
    problem.request_id = request_id;
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    Response::from_parts(parts, Body::from(body))
}
