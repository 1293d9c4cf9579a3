//! Connectors and the Content tabs in the portal, against the real
//! WordPress: connect with the form (the tool's reason when it refuses),
//! sync with live progress, then read, create, edit, upload and delete in
//! the tabs, each change reaching WordPress.

use anyhow::{bail, Result};
use domain::roles::Role;
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use testkit::wordpress::WordPressSite;
use testkit::{Browser, Db, TestApp, MEMBER_PASSWORD};

async fn admin(app: &TestApp) -> Result<Browser> {
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "ada@acme.io", Role::Admin).await?;
    let b = app.browser();
    b.sign_in("ada@acme.io", MEMBER_PASSWORD).await?;
    Ok(b)
}

const PAGE: &str = "/dashboard/connectors/wordpress";

async fn connect(b: &Browser, site: &WordPressSite, password: &str) -> Result<testkit::Page> {
    b.submit(
        PAGE,
        "/dashboard/connectors/wordpress/connect",
        &[
            ("site_url", &site.url),
            ("username", &site.user),
            ("application_password", password),
        ],
    )
    .await
}

/// Starts a sync from the connector page and waits on the run's page.
async fn sync(b: &Browser, resource: &str) -> Result<testkit::Page> {
    let started = b
        .submit(
            PAGE,
            &format!("/dashboard/connectors/wordpress/sync/{resource}"),
            &[("full", "on")],
        )
        .await?;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = b.follow(&started).await?;
        if run.body.contains("badge-ok\">succeeded") || run.body.contains(">failed<") {
            return Ok(run);
        }
        if Instant::now() > deadline {
            bail!("the sync did not end: {}", run.body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connecting_shows_the_tools_reason_when_it_refuses_and_never_echoes_the_password(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = admin(&app).await?;
    let site = WordPressSite::from_env();
    let refused = connect(&b, &site, "wxyz wxyz wxyz wxyz wxyz wxyz").await?;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("WordPress refused the credentials"),
        "{}",
        refused.body
    );
    assert!(
        !refused.body.contains("wxyz wxyz"),
        "the password is not put back"
    );
    assert!(
        refused.body.contains(&site.url),
        "the other fields are kept"
    );
    let done = connect(&b, &site, &site.app_password).await?;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("WordPress is connected"));
    assert!(!done.body.contains(&site.app_password));
    let list = b.get("/dashboard/connectors").await?;
    assert!(list.body.contains("badge-ok\">Connected"), "{}", list.body);
    Ok(())
}

async fn a_sync_from_the_portal_fills_the_posts_tab(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = admin(&app).await?;
    let site = WordPressSite::from_env();
    assert_eq!(
        connect(&b, &site, &site.app_password).await?.status,
        StatusCode::OK
    );
    let before = b.get("/content/posts").await?;
    assert!(before.body.contains("No posts here yet"), "{}", before.body);
    let run = sync(&b, "posts").await?;
    assert!(
        run.body.contains("posts"),
        "the run shows its progress: {}",
        run.body
    );
    let posts = b.get("/content/posts?q=seeded+post+12&sort=title").await?;
    assert!(posts.body.contains("Seeded post 12<"), "{}", posts.body);
    assert!(posts.body.contains("Seeded post 120<"));
    assert!(!posts.body.contains("Seeded post 7<"), "search narrows");
    let page = b.get(PAGE).await?;
    assert!(page.body.contains("data-resource=\"posts\""));
    let dashboard = b.get("/dashboard").await?;
    assert!(
        dashboard.body.contains("data-metric=\"connections\"><p class=\"metric-label\">Connections</p><p class=\"metric-value\">1</p>"),
        "{}",
        dashboard.body
    );
    assert!(dashboard.body.contains("data-metric=\"synced_records\""));
    Ok(())
}

async fn a_post_is_written_edited_and_deleted_in_wordpress_from_the_tab(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = admin(&app).await?;
    let site = WordPressSite::from_env();
    assert_eq!(
        connect(&b, &site, &site.app_password).await?.status,
        StatusCode::OK
    );
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let title = format!("Portal post {tag}");
    let made = b
        .submit(
            "/content/posts",
            "/content/posts",
            &[
                ("title", &title),
                ("content", "<p>From the portal</p>"),
                ("status", "draft"),
            ],
        )
        .await?;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let listed = b.get(&format!("/content/posts?q={tag}")).await?;
    let id = listed
        .body
        .split("data-id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let there: serde_json::Value = site
        .get(&format!("posts/{id}?context=edit"))
        .await?
        .json()
        .await?;
    assert_eq!(there["title"]["raw"], title.as_str());
    let edited = b
        .submit(
            &format!("/content/posts/{id}"),
            &format!("/content/posts/{id}"),
            &[
                ("title", &format!("{title} (edited)")),
                ("content", "<p>Edited</p>"),
                ("status", "publish"),
            ],
        )
        .await?;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    let there: serde_json::Value = site
        .get(&format!("posts/{id}?context=edit"))
        .await?
        .json()
        .await?;
    assert_eq!(there["status"], "publish");
    assert_eq!(there["content"]["raw"], "<p>Edited</p>");
    let bad = b
        .submit(
            &format!("/content/posts/{id}"),
            &format!("/content/posts/{id}"),
            &[("title", "x"), ("content", ""), ("status", "sideways")],
        )
        .await?;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("field-error"),
        "WordPress's reason by its field: {}",
        bad.body
    );
    let deleted = b
        .submit(
            &format!("/content/posts/{id}"),
            &format!("/content/posts/{id}/delete"),
            &[],
        )
        .await?;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(site.get(&format!("posts/{id}")).await?.status(), 404);
    let after = b.get(&format!("/content/posts?q={tag}")).await?;
    assert!(
        !after.body.contains("data-id="),
        "gone from the tab: {}",
        after.body
    );
    Ok(())
}

async fn a_file_is_uploaded_to_the_media_library_from_the_tab(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = admin(&app).await?;
    let site = WordPressSite::from_env();
    assert_eq!(
        connect(&b, &site, &site.app_password).await?.status,
        StatusCode::OK
    );
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let up = b
        .upload(
            "/content/media",
            "/content/media",
            &[("title", &format!("Upload {tag}"))],
            (
                "notes.txt",
                "text/plain",
                b"uploaded from the portal\n".to_vec(),
            ),
        )
        .await?;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);
    assert!(up.body.contains(&format!("Upload {tag}")));
    let found: Vec<serde_json::Value> = site
        .get(&format!("media?search={tag}"))
        .await?
        .json()
        .await?;
    assert_eq!(found.len(), 1, "in WordPress's library");
    let id = found[0]["id"].to_string();
    site.delete("media", &id).await?;
    let empty = b
        .upload(
            "/content/media",
            "/content/media",
            &[],
            ("", "text/plain", vec![]),
        )
        .await?;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("choose a file"));
    Ok(())
}

async fn the_tabs_say_to_connect_first_and_viewers_cannot_change_anything(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "vic@acme.io", Role::Viewer).await?;
    let v = app.browser();
    v.sign_in("vic@acme.io", MEMBER_PASSWORD).await?;
    let tab = v.get("/content/pages").await?;
    assert!(
        tab.body
            .contains("Connect WordPress to see and edit its pages"),
        "{}",
        tab.body
    );
    let connector = v.get(PAGE).await?;
    assert!(connector
        .body
        .contains("An admin of this workspace connects WordPress"));
    assert!(!connector.body.contains("application_password"));
    let refused = v
        .submit(
            "/content/pages",
            "/content/pages",
            &[("title", "x"), ("content", ""), ("status", "draft")],
        )
        .await?;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    Ok(())
}

testkit::on_both_backends!(
    connecting_shows_the_tools_reason_when_it_refuses_and_never_echoes_the_password,
    a_sync_from_the_portal_fills_the_posts_tab,
    a_post_is_written_edited_and_deleted_in_wordpress_from_the_tab,
    a_file_is_uploaded_to_the_media_library_from_the_tab,
    the_tabs_say_to_connect_first_and_viewers_cannot_change_anything,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_and_syncing_in_the_browser() -> Result<()> {
    let app = TestApp::spawn(Db::Sqlite).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "ada@acme.io", Role::Admin).await?;
    let site = WordPressSite::from_env();
    let chrome = app.chrome().await?;
    chrome.sign_in("ada@acme.io", MEMBER_PASSWORD).await?;
    chrome.goto(PAGE).await?;
    chrome.screenshot("connector-wordpress-new").await?;
    chrome.fill("site_url", &site.url).await?;
    chrome.fill("username", &site.user).await?;
    chrome
        .fill("application_password", &site.app_password)
        .await?;
    chrome.click("form[action$='/connect'] button").await?;
    assert!(chrome
        .wait_text(".toast")
        .await?
        .contains("WordPress is connected"));
    chrome.screenshot("connector-wordpress-connected").await?;
    chrome
        .click("tr[data-resource=pages] form:last-of-type button")
        .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    // The page navigates, then swaps the run in place while it runs.
    while !chrome
        .text("h1")
        .await
        .unwrap_or_default()
        .contains("succeeded")
    {
        anyhow::ensure!(Instant::now() < deadline, "the sync did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    chrome.screenshot("connector-wordpress-sync-run").await?;
    chrome.goto("/content/pages?sort=title").await?;
    assert!(chrome.text("tbody").await?.contains("Seeded page"));
    chrome.screenshot("content-pages").await?;
    chrome.goto("/dashboard/connectors").await?;
    chrome.screenshot("connectors").await?;
    assert!(chrome.console_errors().await?.is_empty());
    chrome.close().await
}
