//! Invitations: a one-time emailed link to join a tenant with a role.

use anyhow::{Context, Result};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::{Db, TestApp};

const PASSWORD: &str = "correct horse battery";

async fn owner(app: &TestApp, email: &str, tenant: &str) -> Result<Value> {
    Ok(app.register(email, PASSWORD, tenant).await?.json().await?)
}

async fn invite(
    app: &TestApp,
    session: &str,
    email: &str,
    role: &str,
) -> Result<reqwest::Response> {
    Ok(app
        .request(Method::POST, "/api/v1/invitations", session)
        .json(&json!({ "email": email, "role": role }))
        .send()
        .await?)
}

fn token_sent_to(app: &TestApp, email: &str) -> Result<String> {
    let mail = app
        .outbox
        .last_to(email)
        .context("an invitation email was sent")?;
    let token = mail
        .body
        .split("token=")
        .nth(1)
        .context("the email holds the link")?;
    Ok(token.split_whitespace().next().unwrap().to_string())
}

async fn accept(app: &TestApp, token: &str, password: &str) -> Result<reqwest::Response> {
    Ok(app
        .client
        .post(app.url("/auth/invitations/accept"))
        .json(&json!({ "token": token, "password": password }))
        .send()
        .await?)
}

async fn an_invited_person_joins_with_the_role_and_the_link_works_once(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let o = owner(&app, "ann@acme.io", "Acme").await?;
    let ann = o["session"].as_str().unwrap();
    let res = invite(&app, ann, "Bob@Acme.io", "member").await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let listed = app.get_json("/api/v1/invitations", ann).await?;
    assert_eq!(listed["items"][0]["email"], "bob@acme.io");
    let token = token_sent_to(&app, "bob@acme.io")?;
    assert!(
        !listed.to_string().contains(&token),
        "the link is only in the email"
    );

    let joined = accept(&app, &token, "bobs new password").await?;
    assert_eq!(joined.status(), StatusCode::CREATED);
    let s: Value = joined.json().await?;
    assert_eq!(s["role"], "member");
    assert_eq!(s["tenant_slug"], "acme");
    assert_eq!(
        app.get_status("/api/v1/tenant", s["session"].as_str().unwrap())
            .await?,
        StatusCode::OK
    );
    assert_eq!(
        accept(&app, &token, "bobs new password").await?.status(),
        StatusCode::NOT_FOUND,
        "used once"
    );
    assert!(app.get_json("/api/v1/invitations", ann).await?["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let audit = app
        .get_json("/api/v1/audit-logs?action=invitation.accept", ann)
        .await?;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
    Ok(())
}

async fn an_existing_user_joins_a_second_tenant_with_their_own_password(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let a = owner(&app, "ann@a.io", "Tenant A").await?;
    owner(&app, "bob@b.io", "Tenant B").await?;
    invite(&app, a["session"].as_str().unwrap(), "bob@b.io", "viewer").await?;
    let token = token_sent_to(&app, "bob@b.io")?;
    assert_eq!(
        accept(&app, &token, "not bobs password").await?.status(),
        StatusCode::UNAUTHORIZED
    );
    let joined: Value = accept(&app, &token, PASSWORD).await?.json().await?;
    assert_eq!(joined["tenant_slug"], "tenant-a");
    let into_a: Value = app
        .client
        .post(app.url("/auth/login"))
        .json(&json!({ "email": "bob@b.io", "password": PASSWORD, "tenant": "tenant-a" }))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(into_a["role"], "viewer");
    Ok(())
}

async fn withdrawn_and_forged_links_do_not_work(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let o = owner(&app, "ann@acme.io", "Acme").await?;
    let ann = o["session"].as_str().unwrap();
    let inv: Value = invite(&app, ann, "bob@acme.io", "member")
        .await?
        .json()
        .await?;
    let token = token_sent_to(&app, "bob@acme.io")?;
    let id = inv["id"].as_str().unwrap();
    assert_eq!(
        app.request(Method::DELETE, &format!("/api/v1/invitations/{id}"), ann)
            .send()
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        accept(&app, &token, "bobs new password").await?.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        accept(&app, "bzss_forged", "bobs new password")
            .await?
            .status(),
        StatusCode::NOT_FOUND
    );
    let forged = format!("bzss_{}", "A".repeat(43));
    assert_eq!(
        accept(&app, &forged, "bobs new password").await?.status(),
        StatusCode::NOT_FOUND
    );
    Ok(())
}

async fn an_invitation_whose_email_cannot_be_sent_is_not_kept(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let o = owner(&app, "ann@acme.io", "Acme").await?;
    let ann = o["session"].as_str().unwrap();
    app.outbox.set_failing(true);
    let res = invite(&app, ann, "bob@acme.io", "member").await?;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.json::<Value>().await?["detail"]
        .as_str()
        .unwrap()
        .contains("nothing was saved"));
    assert!(app.get_json("/api/v1/invitations", ann).await?["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(app
        .get_json("/api/v1/audit-logs?action=invitation.create", ann)
        .await?["items"]
        .as_array()
        .unwrap()
        .is_empty());
    app.outbox.set_failing(false);
    assert_eq!(
        invite(&app, ann, "bob@acme.io", "member").await?.status(),
        StatusCode::CREATED
    );
    Ok(())
}

async fn members_are_not_invited_twice_and_admins_cannot_invite_owners(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let o = owner(&app, "ann@acme.io", "Acme").await?;
    let ann = o["session"].as_str().unwrap();
    assert_eq!(
        invite(&app, ann, "ann@acme.io", "admin").await?.status(),
        StatusCode::CONFLICT
    );
    let tenant = o["tenant_id"].as_str().unwrap().parse()?;
    let admin = app
        .member(tenant, "ada@acme.io", domain::roles::Role::Admin)
        .await?;
    assert_eq!(
        invite(&app, &admin, "new@acme.io", "owner").await?.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        invite(&app, &admin, "not-an-email", "viewer")
            .await?
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    Ok(())
}

async fn another_tenant_cannot_see_or_withdraw_invitations(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let a = owner(&app, "ann@a.io", "Tenant A").await?;
    let b = owner(&app, "bob@b.io", "Tenant B").await?;
    let inv: Value = invite(&app, a["session"].as_str().unwrap(), "new@a.io", "member")
        .await?
        .json()
        .await?;
    let bob = b["session"].as_str().unwrap();
    assert!(app.get_json("/api/v1/invitations", bob).await?["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let id = inv["id"].as_str().unwrap();
    assert_eq!(
        app.request(Method::DELETE, &format!("/api/v1/invitations/{id}"), bob)
            .send()
            .await?
            .status(),
        StatusCode::NOT_FOUND
    );
    let token = token_sent_to(&app, "new@a.io")?;
    assert_eq!(
        accept(&app, &token, "a fresh password").await?.status(),
        StatusCode::CREATED,
        "still open"
    );
    Ok(())
}

async fn a_retried_invite_with_the_same_key_sends_one_email(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let o = owner(&app, "ann@acme.io", "Acme").await?;
    let ann = o["session"].as_str().unwrap();
    let send = || {
        app.request(Method::POST, "/api/v1/invitations", ann)
            .header("Idempotency-Key", "invite-bob-1")
            .json(&json!({ "email": "bob@acme.io", "role": "member" }))
            .send()
    };
    let first: Value = send().await?.json().await?;
    let again = send().await?;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await?["id"], first["id"]);
    assert_eq!(
        app.outbox
            .sent()
            .iter()
            .filter(|m| m.to == "bob@acme.io")
            .count(),
        1
    );
    assert_eq!(
        app.get_json("/api/v1/invitations", ann).await?["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    Ok(())
}

testkit::on_both_backends!(
    a_retried_invite_with_the_same_key_sends_one_email,
    an_invited_person_joins_with_the_role_and_the_link_works_once,
    an_existing_user_joins_a_second_tenant_with_their_own_password,
    withdrawn_and_forged_links_do_not_work,
    an_invitation_whose_email_cannot_be_sent_is_not_kept,
    members_are_not_invited_twice_and_admins_cannot_invite_owners,
    another_tenant_cannot_see_or_withdraw_invitations,
);
