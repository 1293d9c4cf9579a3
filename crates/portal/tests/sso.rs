//! Single sign-on against the local identity provider: OIDC with discovery,
//! JWKS, state, nonce and PKCE, and GitHub's OAuth2 with its emails API.

use anyhow::Result;
use domain::roles::Role;
use reqwest::StatusCode;
use testkit::oidc::{IdentityProvider, SimUser, Spoil};
use testkit::{Browser, Db, Page, TestApp, MEMBER_PASSWORD};

async fn app_with_idp(db: Db, registration_open: bool) -> Result<(TestApp, IdentityProvider)> {
    let idp = IdentityProvider::start().await?;
    let config = app::Settings {
        registration_open,
        ..Default::default()
    };
    let providers = vec![idp.oidc_config("idp"), idp.github_config()];
    let app = TestApp::spawn_full(testkit::TestDb::create(db).await?, config, providers).await?;
    Ok((app, idp))
}

/// Start → provider → callback, as a browser follows the redirects.
async fn sign_in_with(b: &Browser, provider: &str) -> Result<(Page, String)> {
    let start = b
        .get(&format!("/auth/sso/{provider}?next=/settings/profile"))
        .await?;
    anyhow::ensure!(
        start.status == StatusCode::SEE_OTHER,
        "start: {} {}",
        start.status,
        start.body
    );
    let at_provider = b.follow(&start).await?;
    let callback = at_provider.location.clone().unwrap_or_default();
    let path = callback
        .split_once("/auth/")
        .map(|(_, p)| format!("/auth/{p}"))
        .unwrap_or_default();
    Ok((b.get(&path).await?, path))
}

fn refused_with(page: &Page, words: &str) -> bool {
    page.location.as_deref().is_some_and(|l| {
        l.starts_with("/login?error=") && l.to_lowercase().contains(&words.replace(' ', "+"))
    })
}

/// Whether the browser has no session (the dashboard sends it to sign in).
async fn signed_out(b: &Browser) -> Result<bool> {
    let res = b.get("/dashboard").await?;
    Ok(res.location.is_some_and(|l| l.starts_with("/login")))
}

async fn a_verified_oidc_user_gets_an_account_and_lands_where_they_were_going(
    db: Db,
) -> Result<()> {
    let (app, idp) = app_with_idp(db, true).await?;
    idp.sign_in_as(SimUser::verified("sub-1", "sam@corp.io"));
    let b = app.browser();
    let (done, _) = sign_in_with(&b, "idp").await?;
    assert_eq!(
        done.location.as_deref(),
        Some("/settings/profile"),
        "{done:?}"
    );
    let profile = b.get("/settings/profile").await?;
    assert!(profile.body.contains("sam@corp.io"));
    // The same provider account signs in to the same account next time.
    let again = app.browser();
    sign_in_with(&again, "idp").await?;
    let dashboard = again.get("/dashboard").await?;
    assert!(dashboard.body.contains("sam@corp.io"));
    assert_eq!(
        dashboard.body.matches("<option").count(),
        1,
        "one workspace, not a second"
    );
    Ok(())
}

async fn a_verified_email_links_to_the_existing_account(db: Db) -> Result<()> {
    let (app, idp) = app_with_idp(db, true).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    idp.sign_in_as(SimUser::verified("sub-mia", "mia@acme.io"));
    let b = app.browser();
    let (done, _) = sign_in_with(&b, "idp").await?;
    assert_eq!(done.location.as_deref(), Some("/settings/profile"));
    assert!(b.get("/dashboard").await?.body.contains("Acme"));
    let audit = app
        .get_json("/api/v1/audit-logs?action=auth.sso_link", &acme.token)
        .await?;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
    Ok(())
}

async fn an_unverified_email_never_reaches_the_account_that_has_it(db: Db) -> Result<()> {
    let (app, idp) = app_with_idp(db, true).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let mut user = SimUser::verified("attacker", "mia@acme.io");
    user.email_verified = false;
    idp.sign_in_as(user);
    let b = app.browser();
    let (done, _) = sign_in_with(&b, "idp").await?;
    assert!(refused_with(&done, "not verified"), "{done:?}");
    assert!(signed_out(&b).await?);
    Ok(())
}

async fn an_email_already_linked_to_another_provider_account_is_a_collision(db: Db) -> Result<()> {
    let (app, idp) = app_with_idp(db, true).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    idp.sign_in_as(SimUser::verified("sub-mia", "mia@acme.io"));
    sign_in_with(&app.browser(), "idp").await?;
    idp.sign_in_as(SimUser::verified("someone-else", "mia@acme.io"));
    let (done, _) = sign_in_with(&app.browser(), "idp").await?;
    assert!(refused_with(&done, "already linked"), "{done:?}");
    Ok(())
}

async fn a_callback_with_the_wrong_state_is_refused(db: Db) -> Result<()> {
    let (app, idp) = app_with_idp(db, true).await?;
    idp.sign_in_as(SimUser::verified("sub-1", "sam@corp.io"));
    let b = app.browser();
    let start = b.get("/auth/sso/idp").await?;
    let at_provider = b.follow(&start).await?;
    let callback = at_provider.location.unwrap();
    let path = callback
        .split_once("/auth/")
        .map(|(_, p)| format!("/auth/{p}"))
        .unwrap();
    let (head, _) = path.split_once("&state=").unwrap();
    let forged = b.get(&format!("{head}&state=not-the-state")).await?;
    assert!(refused_with(&forged, "state mismatch"), "{forged:?}");
    Ok(())
}

async fn a_replayed_code_is_refused(db: Db) -> Result<()> {
    let (app, idp) = app_with_idp(db, true).await?;
    idp.sign_in_as(SimUser::verified("sub-1", "sam@corp.io"));
    let b = app.browser();
    let (_, used) = sign_in_with(&b, "idp").await?;
    // Replayed as is: the flow it belonged to is over.
    let replay = b.get(&used).await?;
    assert!(
        refused_with(&replay, "not started in this browser"),
        "{replay:?}"
    );
    // Replayed inside a fresh flow (its state): the provider refuses the used code.
    let start = b.get("/auth/sso/idp").await?;
    let fresh_state = start
        .location
        .as_deref()
        .unwrap()
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let code = used
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let again = b
        .get(&format!(
            "/auth/sso/idp/callback?code={code}&state={fresh_state}"
        ))
        .await?;
    assert!(refused_with(&again, "already used"), "{again:?}");
    Ok(())
}

async fn an_id_token_with_the_wrong_nonce_is_refused(db: Db) -> Result<()> {
    let (app, idp) = app_with_idp(db, true).await?;
    idp.sign_in_as(SimUser::verified("sub-1", "sam@corp.io"));
    idp.spoil(Spoil {
        nonce: Some("another-nonce".into()),
        ..Default::default()
    });
    let (done, _) = sign_in_with(&app.browser(), "idp").await?;
    assert!(refused_with(&done, "id token is invalid"), "{done:?}");
    Ok(())
}

async fn an_expired_id_token_is_refused(db: Db) -> Result<()> {
    let (app, idp) = app_with_idp(db, true).await?;
    idp.sign_in_as(SimUser::verified("sub-1", "sam@corp.io"));
    idp.spoil(Spoil {
        expired: true,
        ..Default::default()
    });
    let (done, _) = sign_in_with(&app.browser(), "idp").await?;
    assert!(refused_with(&done, "id token is invalid"), "{done:?}");
    Ok(())
}

async fn an_id_token_signed_with_a_foreign_key_is_refused(db: Db) -> Result<()> {
    let (app, idp) = app_with_idp(db, true).await?;
    idp.sign_in_as(SimUser::verified("sub-1", "sam@corp.io"));
    idp.spoil(Spoil {
        foreign_key: true,
        ..Default::default()
    });
    let b = app.browser();
    let (done, _) = sign_in_with(&b, "idp").await?;
    assert!(refused_with(&done, "id token is invalid"), "{done:?}");
    assert!(signed_out(&b).await?);
    Ok(())
}

async fn github_signs_in_with_its_verified_primary_email(db: Db) -> Result<()> {
    let (app, idp) = app_with_idp(db, true).await?;
    idp.sign_in_as(SimUser::verified("4242", "gina@dev.io"));
    let b = app.browser();
    let (done, _) = sign_in_with(&b, "github").await?;
    assert_eq!(
        done.location.as_deref(),
        Some("/settings/profile"),
        "{done:?}"
    );
    assert!(b
        .get("/settings/profile")
        .await?
        .body
        .contains("gina@dev.io"));
    Ok(())
}

async fn github_with_an_unverified_email_is_refused(db: Db) -> Result<()> {
    let (app, idp) = app_with_idp(db, true).await?;
    let mut user = SimUser::verified("4242", "gina@dev.io");
    user.email_verified = false;
    idp.sign_in_as(user);
    let (done, _) = sign_in_with(&app.browser(), "github").await?;
    assert!(refused_with(&done, "not verified"), "{done:?}");
    Ok(())
}

async fn with_registration_closed_an_unknown_person_is_sent_to_ask_for_an_invitation(
    db: Db,
) -> Result<()> {
    let (app, idp) = app_with_idp(db, false).await?;
    idp.sign_in_as(SimUser::verified("sub-1", "stranger@corp.io"));
    let (done, _) = sign_in_with(&app.browser(), "idp").await?;
    assert!(refused_with(&done, "invitation"), "{done:?}");
    Ok(())
}

async fn only_configured_providers_are_offered(db: Db) -> Result<()> {
    let (app, _idp) = app_with_idp(db, true).await?;
    let login = app.browser().get("/login").await?;
    assert!(login.body.contains("href=\"/auth/sso/idp?next="));
    assert!(login.body.contains("href=\"/auth/sso/github?next="));
    assert!(!login.body.contains("/auth/sso/google"));
    assert_eq!(
        app.browser().get("/auth/sso/google").await?.status,
        StatusCode::NOT_FOUND
    );
    let plain = TestApp::spawn(Db::Sqlite).await?;
    assert!(!plain
        .browser()
        .get("/login")
        .await?
        .body
        .contains("/auth/sso/"));
    Ok(())
}

async fn a_linked_account_keeps_its_password_sign_in(db: Db) -> Result<()> {
    let (app, idp) = app_with_idp(db, true).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    idp.sign_in_as(SimUser::verified("sub-mia", "mia@acme.io"));
    sign_in_with(&app.browser(), "idp").await?;
    let res = app
        .browser()
        .sign_in("mia@acme.io", MEMBER_PASSWORD)
        .await?;
    assert_eq!(res.location.as_deref(), Some("/dashboard"));
    Ok(())
}

testkit::on_both_backends!(
    a_verified_oidc_user_gets_an_account_and_lands_where_they_were_going,
    a_verified_email_links_to_the_existing_account,
    an_unverified_email_never_reaches_the_account_that_has_it,
    an_email_already_linked_to_another_provider_account_is_a_collision,
    a_callback_with_the_wrong_state_is_refused,
    a_replayed_code_is_refused,
    an_id_token_with_the_wrong_nonce_is_refused,
    an_expired_id_token_is_refused,
    an_id_token_signed_with_a_foreign_key_is_refused,
    github_signs_in_with_its_verified_primary_email,
    github_with_an_unverified_email_is_refused,
    with_registration_closed_an_unknown_person_is_sent_to_ask_for_an_invitation,
    only_configured_providers_are_offered,
    a_linked_account_keeps_its_password_sign_in
);
