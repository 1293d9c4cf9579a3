//! The dashboard and the audit log page.

use anyhow::Result;
use domain::roles::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::{Browser, Db, TestApp, MEMBER_PASSWORD};

async fn signed_in(
    app: &TestApp,
    tenant: domain::TenantId,
    email: &str,
    role: Role,
) -> Result<Browser> {
    app.member(tenant, email, role).await?;
    let b = app.browser();
    b.sign_in(email, MEMBER_PASSWORD).await?;
    Ok(b)
}

async fn rename(app: &TestApp, token: &str, name: &str) -> Result<()> {
    let res = app
        .request(Method::PATCH, "/api/v1/tenant", token)
        .json(&json!({ "name": name }))
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success());
    Ok(())
}

async fn the_dashboard_counts_live_data_and_charts_thirty_days(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let b = signed_in(&app, acme.id, "mia@acme.io", Role::Member).await?;
    let page = b.get("/dashboard").await?;
    assert_eq!(page.status, StatusCode::OK);
    // Two members: the owner and Mia.
    assert!(page.body.contains("data-metric=\"members\"><p class=\"metric-label\">Members</p><p class=\"metric-value\">2</p>"), "{}", page.body);
    assert_eq!(page.body.matches("class=\"chart-bar").count(), 30);
    assert!(page.body.contains("<svg") && page.body.contains("role=\"img\""));
    Ok(())
}

async fn refreshing_the_cards_returns_them_alone_with_new_figures(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let b = signed_in(&app, acme.id, "mia@acme.io", Role::Member).await?;
    app.member(acme.id, "max@acme.io", Role::Viewer).await?;
    let cards = b.get("/dashboard/cards").await?;
    assert_eq!(cards.status, StatusCode::OK);
    assert!(cards.body.starts_with("<section id=\"cards\""));
    assert!(!cards.body.contains("<html"));
    assert!(cards.body.contains("<p class=\"metric-value\">3</p>"));
    Ok(())
}

async fn the_audit_log_page_filters_and_exports_csv(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    rename(&app, &acme.token, "Acme One").await?;
    rename(&app, &acme.token, "Acme Two").await?;
    let b = signed_in(&app, acme.id, "ada@acme.io", Role::Admin).await?;
    let all = b.get("/settings/audit-log").await?;
    assert!(all.body.contains("tenant.update") && all.body.contains("auth.login"));
    let filtered = b
        .get("/settings/audit-log?action=tenant.update&resource_type=")
        .await?;
    assert_eq!(
        filtered.body.matches("<code>tenant.update</code>").count(),
        2
    );
    assert!(!filtered.body.contains("<code>auth.login</code>"));
    assert!(
        filtered.body.contains("value=\"tenant.update\""),
        "the filter is kept"
    );
    let csv = b
        .get("/settings/audit-log/export?action=tenant.update&resource_type=")
        .await?;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers["content-type"]
        .to_str()?
        .starts_with("text/csv"));
    assert_eq!(
        csv.body.lines().count(),
        3,
        "header and two entries: {}",
        csv.body
    );
    Ok(())
}

async fn members_read_the_audit_log_but_only_admins_export_it(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let b = signed_in(&app, acme.id, "mel@acme.io", Role::Member).await?;
    let page = b.get("/settings/audit-log").await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("Export CSV"),
        "no button that cannot work"
    );
    let csv = b.get("/settings/audit-log/export").await?;
    assert_eq!(csv.status, StatusCode::FORBIDDEN);
    assert!(csv.body.contains("admin"), "{}", csv.body);
    Ok(())
}

async fn an_overlong_filter_shows_an_inline_error(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let b = signed_in(&app, acme.id, "vic@acme.io", Role::Viewer).await?;
    let long = "x".repeat(500);
    let res = b.get(&format!("/settings/audit-log?action={long}")).await?;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("id=\"e-action\""));
    Ok(())
}

async fn the_audit_log_page_shows_only_the_members_tenant(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let globex = app.tenant("Globex").await?;
    rename(&app, &globex.token, "Globex Secret Plans").await?;
    let b = signed_in(&app, acme.id, "ada@acme.io", Role::Admin).await?;
    let page = b.get("/settings/audit-log?action=tenant.update").await?;
    assert!(page.body.contains("No audit entries match"));
    let csv = b
        .get("/settings/audit-log/export?action=tenant.update")
        .await?;
    assert_eq!(csv.body.lines().count(), 1, "only the header");
    let dash = b.get("/dashboard").await?;
    assert!(!dash.body.contains("Globex"));
    Ok(())
}

testkit::on_both_backends!(
    the_dashboard_counts_live_data_and_charts_thirty_days,
    refreshing_the_cards_returns_them_alone_with_new_figures,
    the_audit_log_page_filters_and_exports_csv,
    members_read_the_audit_log_but_only_admins_export_it,
    an_overlong_filter_shows_an_inline_error,
    the_audit_log_page_shows_only_the_members_tenant
);
