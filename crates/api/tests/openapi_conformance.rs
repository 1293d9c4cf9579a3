//! The OpenAPI document is valid OpenAPI 3.1, and the server answers what
//! it says: Schemathesis generates requests for every operation from the
//! document (valid and invalid ones) and checks each answer's status,
//! media type and body against it.

use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::BTreeSet;
use testkit::{Db, TestApp};

fn refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        out.insert(r.clone());
                    }
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_1_and_every_reference_resolves() -> Result<()> {
    let app = TestApp::spawn(Db::Sqlite).await?;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let mut found = BTreeSet::new();
    refs(&doc, &mut found);
    for r in &found {
        let name = r.strip_prefix("#/components/schemas/").context(r.clone())?;
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} is not defined"
        );
    }
    // Paging and filters are query parameters, never path ones.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "path" {
                    let name = p["name"].as_str().unwrap();
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: `{name}` is not in the path"
                    );
                }
            }
            if op["security"].is_array() {
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path} documents 401"
                );
            }
        }
    }
    let export = &doc["paths"]["/api/v1/audit-logs"]["get"]["responses"]["200"]["content"];
    for media in ["application/json", "text/csv", "application/jsonl"] {
        assert!(export[media].is_object(), "the audit log documents {media}");
    }
    Ok(())
}

/// Schemathesis, installed by `scripts/services.sh` into its virtual
/// environment (on PATH once its env file is sourced).
fn schemathesis() -> std::path::PathBuf {
    let venv = std::env::var("BIZOSAAS_SERVICES_DIR")
        .map(|d| std::path::Path::new(&d).join("venv/bin/st"))
        .ok()
        .filter(|p| p.exists());
    venv.unwrap_or_else(|| "st".into())
}

/// Runs Schemathesis against the app; its stdout and whether it passed.
async fn run_schemathesis(app: &TestApp, token: &str) -> Result<(String, String, bool)> {
    let report = tempfile::tempdir()?;
    let out = tokio::process::Command::new(schemathesis())
        .args(["run", &app.url("/api/v1/openapi.json")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "12", "--seed", "20261207"])
        .args(["--generation-database", "none", "--no-shrink", "--no-color"])
        // One worker: with two, Hypothesis changing the recursion limit in
        // one thread while the other parses Python source crashes CPython
        // 3.11 now and then ("AST constructor recursion depth mismatch").
        .args(["--request-timeout", "10", "--workers", "1"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .arg("--report-dir")
        .arg(report.path())
        // It keeps a cache of what it found in its working directory.
        .current_dir(report.path())
        .kill_on_drop(true)
        .output()
        .await
        .context("Schemathesis (`st`) did not run: run scripts/services.sh, which installs it")?;
    Ok((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    ))
}

/// Whether a run failed only because Schemathesis itself crashed while
/// generating (see the worker count above), with no answer of ours found
/// wrong: its summary then counts errors (🚫) and no failures (❌).
fn only_the_tool_crashed(stdout: &str) -> bool {
    stdout.contains("Runtime Error") && !stdout.contains('❌')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_get_the_answers_the_document_describes() -> Result<()> {
    let app = TestApp::spawn(Db::Sqlite).await?;
    let acme = app.tenant("Acme").await?;
    let (mut text, mut err, mut passed) = run_schemathesis(&app, &acme.token).await?;
    if !passed && only_the_tool_crashed(&text) {
        println!("Schemathesis crashed inside itself; running it once more:\n{text}");
        (text, err, passed) = run_schemathesis(&app, &acme.token).await?;
    }
    // The summary of what was exercised, for the test's log.
    println!("{text}");
    assert!(
        passed,
        "Schemathesis found answers the document does not describe:\n{text}\n{err}"
    );
    Ok(())
}
