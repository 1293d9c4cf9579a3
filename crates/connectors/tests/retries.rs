//! The shared HTTP machinery against a local server that misbehaves on cue.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use connectors::http::{Gate, Http, RetryPolicy};
use connectors::ConnectorError;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn http(attempts: u32) -> Http {
    let out = outbound::Outbound::new(
        outbound::Policy {
            allow_private: true,
            ..Default::default()
        },
        Duration::from_secs(5),
    );
    Http::new(
        out,
        RetryPolicy {
            attempts,
            base: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_wait: Duration::from_secs(2),
        },
    )
}

/// A server whose first `failures` answers are `status` (with `retry_after`).
async fn flaky(
    failures: u32,
    status: StatusCode,
    retry_after: Option<&'static str>,
) -> (String, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let app = axum::Router::new().route(
        "/",
        get(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < failures {
                    let mut r = (status, "not now").into_response();
                    if let Some(ra) = retry_after {
                        r.headers_mut().insert("retry-after", ra.parse().unwrap());
                    }
                    r
                } else {
                    (StatusCode::OK, "fine").into_response()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/"), calls)
}

#[tokio::test]
async fn server_errors_are_retried_until_an_answer_comes() -> anyhow::Result<()> {
    let (url, calls) = flaky(3, StatusCode::BAD_GATEWAY, None).await;
    let resp = http(5)
        .send("Test", &Gate::default(), |c| c.get(&url))
        .await?;
    assert_eq!(resp.text().await?, "fine");
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    Ok(())
}

#[tokio::test]
async fn a_server_error_storm_ends_in_a_clear_error_after_the_attempts() {
    let (url, calls) = flaky(100, StatusCode::INTERNAL_SERVER_ERROR, None).await;
    let err = http(3)
        .send("Test", &Gate::default(), |c| c.get(&url))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Upstream { .. }), "{err}");
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_as_retry_after_says() -> anyhow::Result<()> {
    let (url, calls) = flaky(1, StatusCode::TOO_MANY_REQUESTS, Some("1")).await;
    let start = Instant::now();
    http(3)
        .send("Test", &Gate::default(), |c| c.get(&url))
        .await?;
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        start.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    Ok(())
}

#[tokio::test]
async fn a_rate_limit_longer_than_allowed_fails_at_once_with_the_wait() {
    let (url, calls) = flaky(1, StatusCode::TOO_MANY_REQUESTS, Some("120")).await;
    let err = http(3)
        .send("Test", &Gate::default(), |c| c.get(&url))
        .await
        .unwrap_err();
    match err {
        ConnectorError::RateLimited { retry_after, .. } => assert_eq!(retry_after.as_secs(), 120),
        other => panic!("expected a rate limit, got {other}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_rate_limit_pauses_every_call_of_the_same_connection() -> anyhow::Result<()> {
    let (url, calls) = flaky(1, StatusCode::TOO_MANY_REQUESTS, Some("1")).await;
    let gate = Arc::new(Gate::default());
    let client = http(3);
    let first = {
        let (client, gate, url) = (client.clone(), gate.clone(), url.clone());
        tokio::spawn(async move { client.send("Test", &gate, |c| c.get(&url)).await.map(drop) })
    };
    // Let the first call meet the 429, then start a second on the same gate.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    client.send("Test", &gate, |c| c.get(&url)).await?;
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "the second call waited too"
    );
    first.await??;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "one 429, then one call each"
    );
    Ok(())
}

#[tokio::test]
async fn an_unreachable_provider_is_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let err = http(2)
        .send("Test", &Gate::default(), |c| c.get(&url))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Unreachable { .. }), "{err}");
}

#[tokio::test]
async fn an_internal_address_is_refused_under_the_default_policy() {
    let out = outbound::Outbound::new(outbound::Policy::default(), Duration::from_secs(5));
    let err = Http::new(out, RetryPolicy::default())
        .send("Test", &Gate::default(), |c| c.get("http://127.0.0.1:9/"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Refused(_)), "{err}");
}
