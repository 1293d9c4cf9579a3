//! Time to the first streamed token, sequentially: for each URL, `n`
//! streaming chat completions one after another (after a warm-up), timing
//! from sending the request to the first body bytes that hold `NEEDLE`
//! (default: any bytes); prints p50 and p99 in microseconds per URL. `BODY`
//! replaces the request body (default: a chat completion for `model`).
//!
//! usage: cargo run --release -p testkit --example bench_ttft -- <n> <model> <url> [bearer] [<url> [bearer] …]
//! (bearer `-` for none)

use futures::StreamExt;
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args[0].parse()?;
    let model = &args[1];
    let client = reqwest::Client::new();
    for pair in args[2..].chunks(2) {
        let (url, bearer) = (&pair[0], pair.get(1).map(String::as_str).unwrap_or("-"));
        let body: serde_json::Value = match std::env::var("BODY") {
            Ok(b) => serde_json::from_str(&b)?,
            Err(_) => serde_json::json!({"model": model, "stream": true, "max_tokens": 8,
                "messages": [{"role": "user", "content": "What is the answer?"}]}),
        };
        let needle = std::env::var("NEEDLE").unwrap_or_default();
        let mut times = Vec::with_capacity(n);
        for i in 0..n + n / 10 {
            let mut req = client
                .post(url)
                .header("accept", "text/event-stream")
                .json(&body);
            if bearer != "-" {
                req = req.bearer_auth(bearer);
            }
            let t0 = Instant::now();
            let res = req.send().await?;
            anyhow::ensure!(res.status().is_success(), "{url}: {}", res.status());
            let mut stream = res.bytes_stream();
            let mut elapsed = None;
            let mut seen = Vec::new();
            while let Some(chunk) = stream.next().await {
                seen.extend_from_slice(&chunk?);
                if needle.is_empty() || seen.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    elapsed = Some(t0.elapsed());
                    break;
                }
            }
            let elapsed = elapsed.ok_or_else(|| anyhow::anyhow!("{url}: `{needle}` never came"))?;
            while stream.next().await.is_some() {}
            if i >= n / 10 {
                times.push(elapsed.as_micros() as u64);
            }
        }
        times.sort_unstable();
        let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!("{url} p50_us={} p99_us={}", p(0.50), p(0.99));
    }
    Ok(())
}
