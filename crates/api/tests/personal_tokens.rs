//! Personal and tenant tokens: what each may do and how long it lives.

use anyhow::Result;
use domain::roles::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::{Db, TestApp};

async fn create(
    app: &TestApp,
    path: &str,
    session: &str,
    scopes: &[&str],
) -> Result<reqwest::Response> {
    Ok(app
        .request(Method::POST, path, session)
        .json(&json!({ "name": "laptop", "scopes": scopes }))
        .send()
        .await?)
}

async fn secret_of(res: reqwest::Response) -> Result<String> {
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await?;
    Ok(body["secret"].as_str().unwrap().to_string())
}

async fn rename(app: &TestApp, token: &str) -> Result<StatusCode> {
    Ok(app
        .request(Method::PATCH, "/api/v1/tenant", token)
        .json(&json!({ "name": "Renamed" }))
        .send()
        .await?
        .status())
}

async fn member_id(app: &TestApp, session: &str, email: &str) -> Result<String> {
    let members = app.get_json("/api/v1/members", session).await?;
    Ok(members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string())
}

async fn a_tenant_token_made_by_an_admin_cannot_do_what_only_owners_may(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let admin = app.member(acme.id, "ada@acme.io", Role::Admin).await?;
    let token = secret_of(create(&app, "/api/v1/tokens", &admin, &["admin"]).await?).await?;
    assert_eq!(rename(&app, &token).await?, StatusCode::FORBIDDEN);
    Ok(())
}

async fn an_owners_personal_admin_token_acts_as_the_owner(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let owner = app.member(acme.id, "olga@acme.io", Role::Owner).await?;
    let token = secret_of(create(&app, "/api/v1/me/tokens", &owner, &["admin"]).await?).await?;
    assert_eq!(rename(&app, &token).await?, StatusCode::OK);
    let read_only = secret_of(create(&app, "/api/v1/me/tokens", &owner, &["read"]).await?).await?;
    assert_eq!(rename(&app, &read_only).await?, StatusCode::FORBIDDEN);
    Ok(())
}

async fn nobody_makes_a_token_that_outranks_them(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let viewer = app.member(acme.id, "vic@acme.io", Role::Viewer).await?;
    let res = create(&app, "/api/v1/me/tokens", &viewer, &["write"]).await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let p: Value = res.json().await?;
    assert!(p["detail"].as_str().unwrap().contains("`write`"), "{p}");
    assert!(app.get_json("/api/v1/me/tokens", &viewer).await?["items"]
        .as_array()
        .unwrap()
        .is_empty());
    Ok(())
}

async fn a_personal_token_loses_rights_when_its_user_is_demoted(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let owner = app.member(acme.id, "olga@acme.io", Role::Owner).await?;
    let admin = app.member(acme.id, "ada@acme.io", Role::Admin).await?;
    let token = secret_of(create(&app, "/api/v1/me/tokens", &admin, &["admin"]).await?).await?;
    assert_eq!(
        app.get_status("/api/v1/tokens", &token).await?,
        StatusCode::OK
    );
    let ada = member_id(&app, &owner, "ada@acme.io").await?;
    let res = app
        .request(Method::PATCH, &format!("/api/v1/members/{ada}"), &owner)
        .json(&json!({ "role": "viewer" }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.get_status("/api/v1/tokens", &token).await?,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get_status("/api/v1/members", &token).await?,
        StatusCode::OK
    );
    Ok(())
}

async fn a_personal_token_dies_when_its_user_leaves_but_a_tenant_token_lives_on(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let owner = app.member(acme.id, "olga@acme.io", Role::Owner).await?;
    let admin = app.member(acme.id, "ada@acme.io", Role::Admin).await?;
    let personal = secret_of(create(&app, "/api/v1/me/tokens", &admin, &["read"]).await?).await?;
    let tenant = secret_of(create(&app, "/api/v1/tokens", &admin, &["read"]).await?).await?;
    assert_eq!(
        app.get_status("/api/v1/members", &personal).await?,
        StatusCode::OK
    );
    let ada = member_id(&app, &owner, "ada@acme.io").await?;
    let res = app
        .request(Method::DELETE, &format!("/api/v1/members/{ada}"), &owner)
        .send()
        .await?;
    assert!(res.status().is_success());
    assert_eq!(
        app.get_status("/api/v1/members", &personal).await?,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_status("/api/v1/members", &tenant).await?,
        StatusCode::OK
    );
    Ok(())
}

async fn members_see_and_revoke_only_their_own_personal_tokens(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let mia = app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let max = app.member(acme.id, "max@acme.io", Role::Member).await?;
    let res = create(&app, "/api/v1/me/tokens", &mia, &["write"]).await?;
    let created: Value = res.json().await?;
    let id = created["token"]["id"].as_str().unwrap();
    assert_eq!(created["token"]["kind"], "personal");
    assert!(app.get_json("/api/v1/me/tokens", &max).await?["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let path = format!("/api/v1/me/tokens/{id}");
    let res = app.request(Method::DELETE, &path, &max).send().await?;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let secret = created["secret"].as_str().unwrap();
    assert_eq!(
        app.get_status("/api/v1/members", secret).await?,
        StatusCode::OK
    );
    let res = app.request(Method::DELETE, &path, &mia).send().await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.get_status("/api/v1/members", secret).await?,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

async fn an_api_token_cannot_mint_a_personal_token(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let res = create(&app, "/api/v1/me/tokens", &acme.token, &["read"]).await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    Ok(())
}

async fn another_tenants_personal_token_is_not_found(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let globex = app.tenant("Globex").await?;
    let mia = app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let gus = app.member(globex.id, "gus@globex.io", Role::Admin).await?;
    let created: Value = create(&app, "/api/v1/me/tokens", &mia, &["read"])
        .await?
        .json()
        .await?;
    let id = created["token"]["id"].as_str().unwrap();
    for path in [
        format!("/api/v1/me/tokens/{id}"),
        format!("/api/v1/tokens/{id}"),
    ] {
        let res = app.request(Method::DELETE, &path, &gus).send().await?;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        app.get_status(&format!("/api/v1/tokens/{id}"), &gus)
            .await?,
        StatusCode::NOT_FOUND
    );
    let secret = created["secret"].as_str().unwrap();
    assert_eq!(
        app.get_status("/api/v1/members", secret).await?,
        StatusCode::OK
    );
    Ok(())
}

testkit::on_both_backends!(
    another_tenants_personal_token_is_not_found,
    a_tenant_token_made_by_an_admin_cannot_do_what_only_owners_may,
    an_owners_personal_admin_token_acts_as_the_owner,
    nobody_makes_a_token_that_outranks_them,
    a_personal_token_loses_rights_when_its_user_is_demoted,
    a_personal_token_dies_when_its_user_leaves_but_a_tenant_token_lives_on,
    members_see_and_revoke_only_their_own_personal_tokens,
    an_api_token_cannot_mint_a_personal_token
);
