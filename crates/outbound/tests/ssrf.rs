//! Server-side request forgery is refused at the address connected to:
//! names that resolve inward, addresses spelled in other forms, and public
//! servers that redirect inward.

use anyhow::Result;
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use outbound::{Error, Outbound, Policy};
use std::time::Duration;

/// A server on `ip` answering `/ok`, and `/inward` with a redirect to `to`.
async fn server(ip: &str, to: Option<String>) -> Result<u16> {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await?;
    let port = listener.local_addr()?.port();
    let target = to.unwrap_or_default();
    let app = Router::new().route("/ok", get(|| async { "ok" })).route(
        "/inward",
        get(move || async move { Redirect::temporary(&target) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(port)
}

fn guarded(policy: Policy) -> Outbound {
    Outbound::new(policy, Duration::from_secs(5))
}

async fn fetch(client: &Outbound, url: &str) -> Result<reqwest::Response, Error> {
    client.send(client.http().get(url)).await
}

#[tokio::test]
async fn internal_destinations_are_refused_however_they_are_spelled() -> Result<()> {
    let port = server("127.0.0.1", None).await?;
    let client = guarded(Policy::default());
    for url in [
        format!("http://localhost:{port}/ok"), // a name that resolves to 127.0.0.1
        format!("http://127.0.0.1:{port}/ok"),
        format!("http://[::ffff:127.0.0.1]:{port}/ok"),
        format!("http://0.0.0.0:{port}/ok"),
        format!("http://2130706433:{port}/ok"), // 127.0.0.1 as one number
        format!("http://0x7f.1:{port}/ok"),
        format!("http://[::1]:{port}/ok"),
        "http://169.254.169.254/latest/meta-data/".to_string(), // cloud metadata
        "http://100.64.0.1/".to_string(),                       // CGNAT
        "http://[fd00::1]/".to_string(),
    ] {
        match fetch(&client, &url).await {
            Err(Error::Refused(r)) => assert!(r.to_string().contains("internal"), "{url}: {r}"),
            other => panic!("{url} was not refused: {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn an_allowed_server_that_redirects_inward_is_refused_at_the_redirect() -> Result<()> {
    let inner = server("127.0.0.1", None).await?;
    // 127.0.0.2 plays a public server: the operator allows it by name.
    let outer = server("127.0.0.2", Some(format!("http://127.0.0.1:{inner}/ok"))).await?;
    let client = guarded(Policy {
        allowed_networks: vec!["127.0.0.2/32".parse()?],
        ..Default::default()
    });
    let direct = fetch(&client, &format!("http://127.0.0.2:{outer}/ok")).await?;
    assert_eq!(
        direct.text().await?,
        "ok",
        "the allowed server itself answers"
    );
    match fetch(&client, &format!("http://127.0.0.2:{outer}/inward")).await {
        Err(Error::Refused(r)) => assert_eq!(r.addr.to_string(), "127.0.0.1"),
        other => panic!("the redirect inward was followed: {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn an_operator_may_allow_private_endpoints() -> Result<()> {
    let port = server("127.0.0.1", None).await?;
    let client = guarded(Policy {
        allow_private: true,
        ..Default::default()
    });
    let res = fetch(&client, &format!("http://localhost:{port}/ok")).await?;
    assert_eq!(res.text().await?, "ok");
    Ok(())
}

#[test]
fn public_addresses_pass_and_internal_ranges_do_not() {
    let p = Policy::default();
    for public in ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111"] {
        assert!(p.allows(public.parse().unwrap()), "{public}");
    }
    for internal in [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "100.100.100.100",
        "169.254.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "64:ff9b::7f00:1",
    ] {
        assert!(!p.allows(internal.parse().unwrap()), "{internal}");
    }
}
