//! Largest Contentful Paint of the dashboard in headless Chromium on
//! loopback, read from the browser's Performance API: a measurement, not a
//! test. `cargo bench -p portal --bench lcp` (debug assets are the same as
//! release: they are embedded files).

use domain::roles::Role;
use std::time::Duration;
use testkit::{TestApp, MEMBER_PASSWORD};

const LCP: &str = r#"
const done = arguments[arguments.length - 1];
new PerformanceObserver((list) => {
  const e = list.getEntries();
  done(e[e.length - 1].startTime);
}).observe({ type: "largest-contentful-paint", buffered: true });
"#;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let app = TestApp::spawn(testkit::Db::Sqlite).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    let mut samples = Vec::new();
    for _ in 0..10 {
        chrome.goto("/dashboard").await?;
        let v = chrome.client.execute_async(LCP, vec![]).await?;
        samples.push(v.as_f64().unwrap_or(f64::NAN));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    println!(
        "dashboard LCP over {} loads: median {:.0} ms, max {:.0} ms",
        samples.len(),
        samples[samples.len() / 2],
        samples[samples.len() - 1]
    );
    chrome.close().await
}
