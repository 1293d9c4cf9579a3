//! The built-in workflows on both backends: the purge of what can no longer
//! be used, and the audit-log export.

mod support;

use anyhow::Result;
use domain::roles::Role;
use domain::workflows::{RunStatus, StartRun};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use support::*;
use testkit::{Db, TestDb};
use workflows::builtin::maintenance;

async fn the_purge_deletes_ended_sessions_and_invitations_of_every_tenant(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let a = app.tenant("Acme").await?;
    let b = app.tenant("Globex").await?;
    let session = app.member(a.id, "m@acme.test", Role::Member).await?;
    let out = app
        .request(Method::POST, "/auth/logout", &session)
        .send()
        .await?;
    assert!(out.status().is_success());
    let inv: Value = app
        .request(Method::POST, "/api/v1/invitations", &b.token)
        .json(&json!({ "email": "x@globex.test", "role": "member" }))
        .send()
        .await?
        .json()
        .await?;
    let revoked = app
        .request(
            Method::DELETE,
            &format!("/api/v1/invitations/{}", inv["id"].as_str().unwrap()),
            &b.token,
        )
        .send()
        .await?;
    assert!(revoked.status().is_success());

    let started = app
        .workflows
        .start(StartRun {
            tenant: None,
            requested_by: None,
            workflow_type: maintenance::PURGE.into(),
            input: json!({}),
            dedup_key: None,
        })
        .await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let run = loop {
        let r = app
            .embedded
            .as_ref()
            .unwrap()
            .platform_run(started.run.id)
            .await?;
        if r.status.is_terminal() || std::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    let progress = run.progress.unwrap();
    assert_eq!((progress.done, progress.total), (2, Some(2)));

    let purged_a = app
        .get_json("/api/v1/audit-logs?action=maintenance.purged", &a.token)
        .await?;
    assert_eq!(purged_a["items"][0]["metadata"]["purged"]["sessions"], 1);
    let purged_b = app
        .get_json("/api/v1/audit-logs?action=maintenance.purged", &b.token)
        .await?;
    assert_eq!(purged_b["items"][0]["metadata"]["purged"]["invitations"], 1);
    // Live credentials survive: the tenants' tokens still work.
    assert_eq!(
        app.get_status("/api/v1/members", &a.token).await?,
        StatusCode::OK
    );
    Ok(())
}

async fn a_tenant_cannot_start_the_platform_purge(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let a = app.tenant("Acme").await?;
    let res = app
        .workflows
        .start(StartRun {
            tenant: Some(a.id),
            requested_by: Some(domain::Principal::operator(a.id).scope()),
            workflow_type: maintenance::PURGE.into(),
            input: json!({}),
            dedup_key: None,
        })
        .await;
    assert!(matches!(
        res,
        Err(domain::workflows::EngineError::Invalid(_))
    ));
    Ok(())
}

async fn the_audit_log_export_writes_every_entry_once_and_is_audited_once(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    for i in 0..7 {
        app.request(Method::PATCH, "/api/v1/tenant", &t.token)
            .json(&json!({ "name": format!("Acme {i}") }))
            .send()
            .await?;
    }
    let before = app
        .get_json("/api/v1/audit-logs?limit=200", &t.token)
        .await?["items"]
        .as_array()
        .unwrap()
        .len();
    let res = app
        .request(Method::POST, "/api/v1/workflows", &t.token)
        .json(&json!({ "workflow_type": "audit_log.export", "input": { "page_size": 3 } }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let run: Value = res.json().await?;
    let id: domain::RunId = run["id"].as_str().unwrap().parse()?;
    let d = finished(&app, t.id, id).await?;
    assert_eq!(d.run.status, RunStatus::Succeeded, "{d:#?}");
    let out = d.output.unwrap();
    // The export's own start is audited before its first page is read.
    let expected = before + 1;
    assert_eq!(out["entries"], expected);
    assert_eq!(out["pages"], expected.div_ceil(3) as u64);
    let file = app.data_dir.path().join(out["file"].as_str().unwrap());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "an export is its owner's alone: {mode:o}");
    let text = std::fs::read_to_string(&file)?;
    let lines: Vec<Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), expected);
    let mut ids: Vec<_> = lines
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), expected, "no entry twice");
    assert!(lines.iter().all(|l| l["tenant_id"] == t.id.to_string()));
    assert!(!file.with_extension("parts").exists());
    let exported = app
        .get_json("/api/v1/audit-logs?action=audit_log.exported", &t.token)
        .await?;
    assert_eq!(exported["items"].as_array().unwrap().len(), 1);
    assert_eq!(exported["items"][0]["resource_id"], id.to_string());
    Ok(())
}

testkit::on_both_backends!(
    the_purge_deletes_ended_sessions_and_invitations_of_every_tenant,
    a_tenant_cannot_start_the_platform_purge,
    the_audit_log_export_writes_every_entry_once_and_is_audited_once,
);
