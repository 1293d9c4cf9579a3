//! The gateway benchmark's upstream: an OpenAI-compatible server that
//! answers at once, in OpenAI's wire format. `POST /v1/chat/completions`
//! answers a fixed completion, or with `"stream": true` fixed chunks (and
//! the usage chunk when asked); `GET /v1/models` lists one model (so a key
//! pointing here passes the platform's key check). Any bearer key goes.
//!
//! usage: cargo run --release -p testkit --example bench_llm_sim -- <port>

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};

const WORDS: [&str; 8] = [
    "The", " answer", " is", " forty", "-two", ",", " friend", ".",
];

async fn completions(body: Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = req["model"].as_str().unwrap_or("gpt-4o-mini").to_string();
    let usage = json!({"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20});
    if req["stream"] != true {
        return Json(json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1733568000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": WORDS.concat(), "refusal": null},
                "logprobs": null, "finish_reason": "stop"}],
            "usage": usage, "system_fingerprint": "fp_bench"
        }))
        .into_response();
    }
    let chunk = |choices: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1733568000,
                "model": model, "system_fingerprint": "fp_bench", "choices": choices})
        )
    };
    let mut out = chunk(
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
    );
    for w in WORDS {
        out.push_str(&chunk(
            json!([{"index": 0, "delta": {"content": w}, "finish_reason": null}]),
        ));
    }
    out.push_str(&chunk(
        json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
    ));
    if req["stream_options"]["include_usage"] == true {
        out.push_str(&format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1733568000,
                "model": model, "choices": [], "usage": usage})
        ));
    }
    out.push_str("data: [DONE]\n\n");
    // `bench_pause_ms` holds each frame back that long: streams that stay
    // open, for measuring what open streams cost a gateway.
    let Some(pause) = req["bench_pause_ms"].as_u64() else {
        return (
            [(header::CONTENT_TYPE, "text/event-stream")],
            Body::from(out),
        )
            .into_response();
    };
    let frames: Vec<String> = out.split_inclusive("\n\n").map(str::to_string).collect();
    let stream = futures::stream::iter(frames).then(move |f| async move {
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        Ok::<_, std::convert::Infallible>(f)
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [
        {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}
    ]}))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "18100".into())
        .parse()?;
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
