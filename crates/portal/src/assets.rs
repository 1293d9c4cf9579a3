//! Static assets, embedded in the binary.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");
const HTMX: &str = include_str!("../assets/htmx.min.js");
const FAVICON: &str = include_str!("../assets/favicon.svg");

/// `GET /assets/{name}`: cached for a day (names are not fingerprinted yet).
pub async fn serve(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "favicon.svg" => (FAVICON, "image/svg+xml"),
        _ => return crate::render::PageError::NotFound.into_response(),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

/// `GET /favicon.ico`: browsers ask for it whatever the page links.
pub async fn favicon() -> Response {
    serve(Path("favicon.svg".to_string())).await
}
