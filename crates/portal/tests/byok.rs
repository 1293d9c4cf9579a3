//! `/ai-agents/byok`: adding, testing and revoking provider keys from the
//! portal, with the provider's reason on failure and the key never shown
//! again.

use anyhow::Result;
use domain::roles::Role;
use reqwest::StatusCode;
use testkit::{Db, TestApp, MEMBER_PASSWORD};

const KEY: &str = "sk-proj-portal-key-0000000WXYZ";

async fn admin(app: &TestApp) -> Result<testkit::Browser> {
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "ada@acme.io", Role::Admin).await?;
    let b = app.browser();
    b.sign_in("ada@acme.io", MEMBER_PASSWORD).await?;
    Ok(b)
}

async fn a_saved_key_is_listed_masked_and_never_shown_again(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = admin(&app).await?;
    app.llm.accept(KEY);
    let res = b
        .submit(
            "/ai-agents/byok",
            "/ai-agents/byok",
            &[("provider", "openai"), ("api_key", KEY), ("validate", "on")],
        )
        .await?;
    assert_eq!(res.status, StatusCode::CREATED);
    assert!(res.body.contains("ending in WXYZ is saved"), "{}", res.body);
    assert!(res.body.contains("…WXYZ"));
    assert!(res.body.contains("working"));
    assert!(!res.body.contains(KEY), "the key is not echoed");
    let again = b.get("/ai-agents/byok").await?;
    assert!(!again.body.contains(KEY));
    Ok(())
}

async fn a_rejected_key_shows_the_providers_reason_and_is_not_kept_in_the_form(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = admin(&app).await?;
    let res = b
        .submit(
            "/ai-agents/byok",
            "/ai-agents/byok",
            &[
                ("provider", "anthropic"),
                ("api_key", "sk-ant-not-valid-1234"),
                ("validate", "on"),
            ],
        )
        .await?;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .body
        .contains("Anthropic rejected the key: invalid x-api-key"));
    assert!(!res.body.contains("sk-ant-not-valid-1234"));
    assert!(res.body.contains("not added"));
    Ok(())
}

async fn testing_and_revoking_from_the_page(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = admin(&app).await?;
    app.llm.accept(KEY);
    b.submit(
        "/ai-agents/byok",
        "/ai-agents/byok",
        &[("provider", "openai"), ("api_key", KEY), ("validate", "on")],
    )
    .await?;
    app.llm.reject(KEY);
    let tested = b
        .submit("/ai-agents/byok", "/ai-agents/byok/openai/test", &[])
        .await?;
    assert_eq!(tested.status, StatusCode::OK);
    assert!(tested.body.contains("failing"));
    assert!(tested.body.contains("Incorrect API key"));
    let revoked = b
        .submit("/ai-agents/byok", "/ai-agents/byok/openai/revoke", &[])
        .await?;
    assert!(revoked.body.contains("revoked and destroyed"));
    assert!(!revoked.body.contains("…WXYZ"));
    Ok(())
}

async fn members_are_told_they_need_the_admin_role(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mo@acme.io", Role::Member).await?;
    let b = app.browser();
    b.sign_in("mo@acme.io", MEMBER_PASSWORD).await?;
    let res = b.get("/ai-agents/byok").await?;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("`admin`"));
    Ok(())
}

testkit::on_both_backends!(
    a_saved_key_is_listed_masked_and_never_shown_again,
    a_rejected_key_shows_the_providers_reason_and_is_not_kept_in_the_form,
    testing_and_revoking_from_the_page,
    members_are_told_they_need_the_admin_role,
);
