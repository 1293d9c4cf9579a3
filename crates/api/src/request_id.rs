//! Request ids: taken from `x-request-id` when the client sends a sane one,
//! else a new UUIDv7; echoed on the response and recorded on the log span.

use axum::http::{HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// Makes UUIDv7 request ids.
#[derive(Clone, Copy, Default)]
pub struct MakeRequestUuidV7;

impl MakeRequestId for MakeRequestUuidV7 {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// The request id of a request, if set.
pub fn of<B>(req: &Request<B>) -> Option<&str> {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
}
