//! The gateway benchmark's baseline: a bare reverse proxy on hyper, doing
//! nothing but forwarding each request to the upstream and streaming the
//! answer back: what any gateway costs at the least.
//!
//! usage: cargo run --release -p testkit --example bench_hyper_proxy -- <port> <upstream host:port>

use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;

type Body = BoxBody<Bytes, hyper::Error>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().unwrap_or_else(|| "18101".into()).parse()?;
    let upstream = args.next().unwrap_or_else(|| "127.0.0.1:18100".into());
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build_http();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let (client, upstream) = (client.clone(), upstream.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let (client, upstream) = (client.clone(), upstream.clone());
                async move {
                    let path = req
                        .uri()
                        .path_and_query()
                        .map_or("/", |p| p.as_str())
                        .to_string();
                    *req.uri_mut() = format!("http://{upstream}{path}").parse().unwrap();
                    let res: Response<Body> = match client.request(req).await {
                        Ok(res) => res.map(|b| b.boxed()),
                        Err(_) => Response::builder()
                            .status(502)
                            .body(
                                http_body_util::Empty::new()
                                    .map_err(|e: Infallible| match e {})
                                    .boxed(),
                            )
                            .unwrap(),
                    };
                    Ok::<_, Infallible>(res)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
