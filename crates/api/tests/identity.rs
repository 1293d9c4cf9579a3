//! Accounts, sign-in with lockout, sessions, and members, on both backends.

use anyhow::Result;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::{Db, TestApp, TestDb};

const PASSWORD: &str = "correct horse battery";

async fn register(app: &TestApp, email: &str, tenant: &str) -> Result<reqwest::Response> {
    app.register(email, PASSWORD, tenant).await
}

async fn start_registration(app: &TestApp, email: &str, tenant: &str) -> Result<reqwest::Response> {
    Ok(app
        .client
        .post(app.url("/auth/register"))
        .json(&json!({ "email": email, "password": PASSWORD, "tenant_name": tenant }))
        .send()
        .await?)
}

async fn login(app: &TestApp, email: &str, password: &str) -> Result<reqwest::Response> {
    Ok(app
        .client
        .post(app.url("/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await?)
}

async fn registering_makes_the_user_owner_of_a_new_tenant_with_a_working_session(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let res = register(&app, "Ann@Acme.io", "Acme Corp").await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let s: Value = res.json().await?;
    assert_eq!(s["role"], "owner");
    assert_eq!(s["email"], "ann@acme.io");
    let session = s["session"].as_str().unwrap();
    assert!(session.starts_with("bzss_"));
    let tenant = app.get_json("/api/v1/tenant", session).await?;
    assert_eq!(tenant["slug"], "acme-corp");
    let members = app.get_json("/api/v1/members", session).await?;
    assert_eq!(members["items"][0]["email"], "ann@acme.io");
    assert_eq!(members["items"][0]["role"], "owner");
    let audit = app
        .get_json("/api/v1/audit-logs?action=user.register", session)
        .await?;
    assert_eq!(audit["items"][0]["user_id"], s["user_id"]);
    Ok(())
}

async fn an_email_registers_once_whatever_its_case(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    assert_eq!(
        register(&app, "ann@acme.io", "Acme").await?.status(),
        StatusCode::CREATED
    );
    // A second registration is answered exactly like a first one; the
    // address's owner is told by email, and nothing else happens.
    let again = start_registration(&app, "ANN@acme.io", "Other Co").await?;
    let fresh = start_registration(&app, "new@acme.io", "New Co").await?;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(fresh.status(), StatusCode::ACCEPTED);
    let (again, fresh): (Value, Value) = (again.json().await?, fresh.json().await?);
    assert_eq!(again["status"], fresh["status"]);
    assert_eq!(
        again["detail"]
            .as_str()
            .unwrap()
            .replace("ann@acme.io", "X"),
        fresh["detail"]
            .as_str()
            .unwrap()
            .replace("new@acme.io", "X")
    );
    let told = app.outbox.last_to("ann@acme.io").unwrap();
    assert!(told.body.contains("already has an account") && !told.body.contains("token="));
    // A taken workspace name is answered the same way too (a 409 would list
    // the platform's tenants to anyone who asks); the mailbox learns why.
    let same_tenant = start_registration(&app, "bob@acme.io", "acme").await?;
    assert_eq!(same_tenant.status(), StatusCode::ACCEPTED);
    let told = app.outbox.last_to("bob@acme.io").unwrap();
    assert!(told.body.contains("already exists") && !told.body.contains("token="));
    // Neither failed attempt left anything behind: Bob cannot sign in.
    assert_eq!(
        login(&app, "bob@acme.io", PASSWORD).await?.status(),
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

async fn bad_registrations_name_every_bad_field_and_write_nothing(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let res = app
        .client
        .post(app.url("/auth/register"))
        .json(&json!({ "email": "аnn@acme.io", "password": "short", "tenant_name": "" }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = res.json().await?;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"email")
            && fields.contains(&"password")
            && fields.contains(&"tenant_name"),
        "{p}"
    );
    let long = app
        .client
        .post(app.url("/auth/register"))
        .json(&json!({ "email": format!("{}@acme.io", "a".repeat(300)), "password": PASSWORD, "tenant_name": "Acme" }))
        .send()
        .await?;
    assert_eq!(long.json::<Value>().await?["errors"][0]["field"], "email");
    assert_eq!(
        register(&app, "ann@acme.io", "Acme").await?.status(),
        StatusCode::CREATED,
        "the name was not taken"
    );
    Ok(())
}

async fn an_unknown_email_and_a_wrong_password_get_the_same_answer(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    register(&app, "ann@acme.io", "Acme").await?;
    let unknown = login(&app, "nobody@acme.io", PASSWORD).await?;
    let wrong = login(&app, "ann@acme.io", "not the password").await?;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let (u, w): (Value, Value) = (unknown.json().await?, wrong.json().await?);
    assert_eq!(u["detail"], w["detail"]);
    assert_eq!(u["title"], w["title"]);
    let ok = login(&app, "ANN@acme.io", PASSWORD).await?;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.json::<Value>().await?["tenant_slug"], "acme");
    Ok(())
}

async fn login_from(
    app: &TestApp,
    address: &str,
    email: &str,
    password: &str,
) -> Result<reqwest::Response> {
    Ok(app
        .client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", address)
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await?)
}

/// The app behind a reverse proxy on loopback, so tests can sign in "from"
/// any address.
async fn behind_a_proxy(db: Db) -> Result<TestApp> {
    let settings = app::Settings {
        trusted_proxies: vec!["127.0.0.1/32".parse()?],
        ..Default::default()
    };
    TestApp::spawn_with(testkit::TestDb::create(db).await?, settings).await
}

async fn twenty_wrong_passwords_lock_out_that_address_only_and_are_audited(db: Db) -> Result<()> {
    let app = behind_a_proxy(db).await?;
    let owner: Value = register(&app, "ann@acme.io", "Acme").await?.json().await?;
    const STRANGER: &str = "203.0.113.9";
    for _ in 0..20 {
        let res = login_from(&app, STRANGER, "ann@acme.io", "guess guess guess").await?;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let during = login_from(&app, STRANGER, "ann@acme.io", PASSWORD).await?;
    assert_eq!(
        during.status(),
        StatusCode::UNAUTHORIZED,
        "the right password is refused from the locked-out address"
    );
    // The owner, elsewhere, is not locked out by a stranger's guesses.
    let home = login_from(&app, "198.51.100.7", "ann@acme.io", PASSWORD).await?;
    assert_eq!(home.status(), StatusCode::OK);
    let session = owner["session"].as_str().unwrap();
    let failed = app
        .get_json(
            "/api/v1/audit-logs?action=auth.login_failed&limit=200",
            session,
        )
        .await?;
    let failed = failed["items"].as_array().unwrap();
    assert_eq!(failed.len(), 20);
    assert!(
        failed.iter().all(|e| e["ip_address"] == STRANGER),
        "the audit log names the address the proxy vouched for"
    );
    let lockout = app
        .get_json("/api/v1/audit-logs?action=auth.lockout", session)
        .await?;
    assert_eq!(lockout["items"].as_array().unwrap().len(), 1);
    let refused = app
        .get_json(
            "/api/v1/audit-logs?action=auth.login_refused_locked",
            session,
        )
        .await?;
    assert_eq!(refused["items"].as_array().unwrap().len(), 1);
    Ok(())
}

async fn forwarded_addresses_are_ignored_unless_the_peer_is_a_trusted_proxy(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let owner: Value = register(&app, "ann@acme.io", "Acme").await?.json().await?;
    login_from(&app, "203.0.113.9", "ann@acme.io", "guess guess guess").await?;
    let failed = app
        .get_json(
            "/api/v1/audit-logs?action=auth.login_failed",
            owner["session"].as_str().unwrap(),
        )
        .await?;
    assert_eq!(failed["items"][0]["ip_address"], "127.0.0.1");
    Ok(())
}

async fn signing_out_ends_the_session(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    register(&app, "ann@acme.io", "Acme").await?;
    let s: Value = login(&app, "ann@acme.io", PASSWORD).await?.json().await?;
    let session = s["session"].as_str().unwrap();
    assert_eq!(
        app.get_status("/api/v1/tenant", session).await?,
        StatusCode::OK
    );
    let out = app
        .request(Method::POST, "/auth/logout", session)
        .send()
        .await?;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_status("/api/v1/tenant", session).await?,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

async fn a_member_of_tenant_a_sees_nothing_of_tenant_b(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let a: Value = register(&app, "ann@a.io", "Tenant A").await?.json().await?;
    let b: Value = register(&app, "bob@b.io", "Tenant B").await?.json().await?;
    let (sa, sb) = (
        a["session"].as_str().unwrap(),
        b["session"].as_str().unwrap(),
    );
    let members = app.get_json("/api/v1/members", sa).await?.to_string();
    assert!(!members.contains("bob@b.io"));
    let b_token: Value = app
        .request(Method::POST, "/api/v1/tokens", sb)
        .json(&json!({ "name": "b", "scopes": ["read"] }))
        .send()
        .await?
        .json()
        .await?;
    let id = b_token["token"]["id"].as_str().unwrap();
    assert_eq!(
        app.get_status(&format!("/api/v1/tokens/{id}"), sa).await?,
        StatusCode::NOT_FOUND
    );
    let audit = app
        .get_json("/api/v1/audit-logs?limit=200", sa)
        .await?
        .to_string();
    assert!(!audit.contains("bob@b.io"));
    Ok(())
}

async fn a_registration_whose_email_cannot_be_sent_keeps_nothing(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    app.outbox.set_failing(true);
    let res = start_registration(&app, "ann@acme.io", "Acme").await?;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    app.outbox.set_failing(false);
    assert_eq!(
        register(&app, "ann@acme.io", "Acme").await?.status(),
        StatusCode::CREATED,
        "nothing half-made blocks a retry"
    );
    assert_eq!(app.outbox.sent().len(), 1);
    Ok(())
}

async fn a_registration_link_works_once(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    start_registration(&app, "ann@acme.io", "Acme").await?;
    let mail = app.outbox.last_to("ann@acme.io").unwrap();
    let token = mail
        .body
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let confirm = || {
        app.client
            .post(app.url("/auth/register/confirm"))
            .json(&json!({ "token": token }))
            .send()
    };
    assert_eq!(confirm().await?.status(), StatusCode::CREATED);
    assert_eq!(confirm().await?.status(), StatusCode::NOT_FOUND);
    Ok(())
}

testkit::on_both_backends!(
    a_registration_whose_email_cannot_be_sent_keeps_nothing,
    a_registration_link_works_once,
    registering_makes_the_user_owner_of_a_new_tenant_with_a_working_session,
    an_email_registers_once_whatever_its_case,
    bad_registrations_name_every_bad_field_and_write_nothing,
    an_unknown_email_and_a_wrong_password_get_the_same_answer,
    twenty_wrong_passwords_lock_out_that_address_only_and_are_audited,
    forwarded_addresses_are_ignored_unless_the_peer_is_a_trusted_proxy,
    signing_out_ends_the_session,
    a_member_of_tenant_a_sees_nothing_of_tenant_b,
    a_user_switches_to_another_of_their_tenants,
    changing_the_password_needs_the_current_one_and_ends_every_session,
);

#[tokio::test]
async fn registration_can_be_closed() -> Result<()> {
    let config = app::Settings {
        registration_open: false,
        ..Default::default()
    };
    let app = TestApp::spawn_with(TestDb::create(Db::Sqlite).await?, config).await?;
    let res = register(&app, "ann@acme.io", "Acme").await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.json::<Value>().await?["detail"]
        .as_str()
        .unwrap()
        .contains("invitation"));
    Ok(())
}

#[tokio::test]
async fn too_many_attempts_from_one_address_are_slowed_with_retry_after() -> Result<()> {
    let config = app::Settings {
        login_attempts_per_minute: 3,
        ..Default::default()
    };
    let app = TestApp::spawn_with(TestDb::create(Db::Sqlite).await?, config).await?;
    for _ in 0..3 {
        assert_eq!(
            login(&app, "nobody@acme.io", PASSWORD).await?.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = login(&app, "nobody@acme.io", PASSWORD).await?;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"].to_str()?.parse()?;
    assert!((1..=60).contains(&wait));
    assert!(res.json::<Value>().await?["detail"]
        .as_str()
        .unwrap()
        .contains("too many sign-in attempts"));
    Ok(())
}

async fn a_user_switches_to_another_of_their_tenants(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let a: Value = register(&app, "ann@a.io", "Tenant A").await?.json().await?;
    let b: Value = register(&app, "bob@b.io", "Tenant B").await?.json().await?;
    let tenant_b = b["tenant_id"].as_str().unwrap().parse()?;
    let ann_in_b = app
        .member(tenant_b, "ann2@a.io", domain::roles::Role::Viewer)
        .await?;
    let switch = |session: String, tenant: &'static str| {
        app.request(Method::POST, "/auth/switch", &session)
            .json(&json!({ "tenant": tenant }))
            .send()
    };
    // Ann (ann@a.io) belongs only to A: switching to B is refused, nothing leaks.
    let refused = switch(a["session"].as_str().unwrap().to_string(), "tenant-b").await?;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    // The second account is a viewer of B; invited into A too, it can switch.
    let sa = a["session"].as_str().unwrap();
    app.request(Method::POST, "/api/v1/invitations", sa)
        .json(&json!({ "email": "ann2@a.io", "role": "member" }))
        .send()
        .await?;
    let mail = app.outbox.last_to("ann2@a.io").unwrap();
    let token = mail
        .body
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let joined = app
        .client
        .post(app.url("/auth/invitations/accept"))
        .json(&json!({ "token": token, "password": testkit::MEMBER_PASSWORD }))
        .send()
        .await?;
    assert_eq!(joined.status(), StatusCode::CREATED);
    let moved = switch(ann_in_b.clone(), "tenant-a").await?;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved: Value = moved.json().await?;
    assert_eq!(moved["tenant_slug"], "tenant-a");
    assert_eq!(moved["role"], "member");
    assert_eq!(
        app.get_json("/api/v1/tenant", moved["session"].as_str().unwrap())
            .await?["slug"],
        "tenant-a"
    );
    assert_eq!(
        app.get_status("/api/v1/tenant", &ann_in_b).await?,
        StatusCode::UNAUTHORIZED,
        "the old session was replaced"
    );
    Ok(())
}

async fn changing_the_password_needs_the_current_one_and_ends_every_session(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let s: Value = register(&app, "ann@acme.io", "Acme").await?.json().await?;
    let session = s["session"].as_str().unwrap();
    let change = |current: &'static str, new: &'static str| {
        app.request(Method::POST, "/api/v1/me/password", session)
            .json(&json!({ "current_password": current, "new_password": new }))
            .send()
    };
    assert_eq!(
        change("wrong password!", "a brand new password")
            .await?
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let weak = change(PASSWORD, "short").await?;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        weak.json::<Value>().await?["errors"][0]["field"],
        "new_password"
    );
    assert_eq!(
        change(PASSWORD, "a brand new password").await?.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_status("/api/v1/tenant", session).await?,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "ann@acme.io", PASSWORD).await?.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "ann@acme.io", "a brand new password")
            .await?
            .status(),
        StatusCode::OK
    );
    Ok(())
}
