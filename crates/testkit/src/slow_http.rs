//! An HTTP forwarder that answers every request late, so a test can stop a
//! process while one of its calls to a real server is in flight.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

struct Target {
    base: String,
    delay: Duration,
    http: reqwest::Client,
}

/// Forwards `url()` to a target, each answer `delay` late.
pub struct SlowHttp {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl SlowHttp {
    /// Starts forwarding to `base` (`http://host:port`).
    pub async fn start(base: &str, delay: Duration) -> anyhow::Result<Self> {
        let target = Arc::new(Target {
            base: base.trim_end_matches('/').to_string(),
            delay,
            http: reqwest::Client::new(),
        });
        let app = axum::Router::new().fallback(forward).with_state(target);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, task })
    }

    /// Where to send requests.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for SlowHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(t): State<Arc<Target>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers.clone();
    headers.remove(axum::http::header::HOST);
    let sent = t
        .http
        .request(parts.method, format!("{}{path}", t.base))
        .headers(headers)
        .body(body)
        .send()
        .await;
    tokio::time::sleep(t.delay).await;
    match sent {
        Ok(r) => {
            let status = r.status();
            let mut headers = HeaderMap::new();
            for (k, v) in r.headers() {
                if k != axum::http::header::TRANSFER_ENCODING
                    && k != axum::http::header::CONTENT_LENGTH
                {
                    headers.append(k, v.clone());
                }
            }
            let bytes: Bytes = r.bytes().await.unwrap_or_default();
            (status, headers, bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
