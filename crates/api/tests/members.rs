//! Managing members: roles, removal, the last owner, and sessions that end
//! when privileges change.

use anyhow::Result;
use domain::roles::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::{Db, TestApp};

async fn owner(app: &TestApp, email: &str, tenant: &str) -> Result<Value> {
    Ok(app
        .register(email, "correct horse battery", tenant)
        .await?
        .json()
        .await?)
}

fn id_of(members: &Value, email: &str) -> String {
    members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn patch_role(
    app: &TestApp,
    session: &str,
    user: &str,
    role: &str,
) -> Result<reqwest::Response> {
    Ok(app
        .request(Method::PATCH, &format!("/api/v1/members/{user}"), session)
        .json(&json!({ "role": role }))
        .send()
        .await?)
}

async fn a_role_change_applies_at_once_and_ends_the_members_sessions(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let o = owner(&app, "ann@acme.io", "Acme").await?;
    let ann = o["session"].as_str().unwrap();
    let tenant = o["tenant_id"].as_str().unwrap().parse()?;
    let bob = app.member(tenant, "bob@acme.io", Role::Admin).await?;
    assert_eq!(
        app.get_status("/api/v1/tokens", &bob).await?,
        StatusCode::OK
    );
    let bob_id = id_of(&app.get_json("/api/v1/members", ann).await?, "bob@acme.io");
    let res = patch_role(&app, ann, &bob_id, "viewer").await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await?["role"], "viewer");
    assert_eq!(
        app.get_status("/api/v1/tenant", &bob).await?,
        StatusCode::UNAUTHORIZED,
        "the old session ended"
    );
    let bob = app.member_session(tenant, "bob@acme.io").await?;
    let denied = app
        .request(Method::POST, "/api/v1/tokens", &bob)
        .json(&json!({ "name": "x", "scopes": ["read"] }))
        .send()
        .await?;
    assert_eq!(
        denied.status(),
        StatusCode::FORBIDDEN,
        "a viewer cannot manage tokens any more"
    );
    assert!(denied.json::<Value>().await?["detail"]
        .as_str()
        .unwrap()
        .contains("`admin` role"));
    let audit = app
        .get_json("/api/v1/audit-logs?action=member.role_change", ann)
        .await?;
    assert_eq!(audit["items"][0]["metadata"]["to"], "viewer");
    Ok(())
}

async fn the_last_owner_can_be_neither_demoted_nor_removed(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let o = owner(&app, "ann@acme.io", "Acme").await?;
    let (ann, ann_id) = (
        o["session"].as_str().unwrap(),
        o["user_id"].as_str().unwrap(),
    );
    assert_eq!(
        patch_role(&app, ann, ann_id, "admin").await?.status(),
        StatusCode::CONFLICT
    );
    let del = app
        .request(Method::DELETE, &format!("/api/v1/members/{ann_id}"), ann)
        .send()
        .await?;
    assert_eq!(del.status(), StatusCode::CONFLICT);
    assert!(del.json::<Value>().await?["detail"]
        .as_str()
        .unwrap()
        .contains("last owner"));
    assert_eq!(
        app.get_json("/api/v1/members", ann).await?["items"][0]["role"],
        "owner"
    );
    Ok(())
}

async fn admins_manage_members_but_not_owners_and_members_manage_nobody(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let o = owner(&app, "ann@acme.io", "Acme").await?;
    let (ann, ann_id) = (
        o["session"].as_str().unwrap(),
        o["user_id"].as_str().unwrap().to_string(),
    );
    let tenant = o["tenant_id"].as_str().unwrap().parse()?;
    let admin = app.member(tenant, "ada@acme.io", Role::Admin).await?;
    let member = app.member(tenant, "max@acme.io", Role::Member).await?;
    let members = app.get_json("/api/v1/members", ann).await?;
    let max_id = id_of(&members, "max@acme.io");
    assert_eq!(
        patch_role(&app, &admin, &ann_id, "viewer").await?.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        patch_role(&app, &admin, &max_id, "owner").await?.status(),
        StatusCode::FORBIDDEN
    );
    let denied = patch_role(&app, &member, &ann_id, "viewer").await?;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert!(denied.json::<Value>().await?["detail"]
        .as_str()
        .unwrap()
        .contains("`admin` role"));
    let removed = app
        .request(Method::DELETE, &format!("/api/v1/members/{max_id}"), &admin)
        .send()
        .await?;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_status("/api/v1/tenant", &member).await?,
        StatusCode::UNAUTHORIZED
    );
    assert!(!app
        .get_json("/api/v1/members", ann)
        .await?
        .to_string()
        .contains("max@acme.io"));
    Ok(())
}

async fn another_tenants_admin_finds_no_such_member(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let a = owner(&app, "ann@a.io", "Tenant A").await?;
    let b = owner(&app, "bob@b.io", "Tenant B").await?;
    let (ann_id, bob) = (
        a["user_id"].as_str().unwrap(),
        b["session"].as_str().unwrap(),
    );
    assert_eq!(
        patch_role(&app, bob, ann_id, "viewer").await?.status(),
        StatusCode::NOT_FOUND
    );
    let del = app
        .request(Method::DELETE, &format!("/api/v1/members/{ann_id}"), bob)
        .send()
        .await?;
    assert_eq!(del.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get_status("/api/v1/tenant", a["session"].as_str().unwrap())
            .await?,
        StatusCode::OK
    );
    Ok(())
}

async fn log_out_everywhere_ends_every_session_of_the_user(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let o = owner(&app, "ann@acme.io", "Acme").await?;
    let first = o["session"].as_str().unwrap();
    let second: Value = app
        .client
        .post(app.url("/auth/login"))
        .json(&json!({ "email": "ann@acme.io", "password": "correct horse battery" }))
        .send()
        .await?
        .json()
        .await?;
    let second = second["session"].as_str().unwrap();
    assert_eq!(
        app.request(Method::POST, "/auth/logout-all", second)
            .send()
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_status("/api/v1/tenant", first).await?,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_status("/api/v1/tenant", second).await?,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

testkit::on_both_backends!(
    a_role_change_applies_at_once_and_ends_the_members_sessions,
    the_last_owner_can_be_neither_demoted_nor_removed,
    admins_manage_members_but_not_owners_and_members_manage_nobody,
    another_tenants_admin_finds_no_such_member,
    log_out_everywhere_ends_every_session_of_the_user,
);
