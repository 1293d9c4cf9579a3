//! The WordPress connector against the real WordPress of the services script.

use connectors::http::{Http, RetryPolicy};
use connectors::{Connection, Connector, ConnectorError, ListRequest, Registry};
use domain::secrets::Secret;
use serde_json::{json, Map};
use std::collections::HashSet;
use std::time::Duration;
use testkit::wordpress::WordPressSite;

fn registry() -> Registry {
    let out = outbound::Outbound::new(
        outbound::Policy {
            allow_private: true,
            ..Default::default()
        },
        Duration::from_secs(30),
    );
    Registry::builtin(Http::new(out, RetryPolicy::default()))
}

fn open(site: &WordPressSite, password: &str) -> Connection {
    let mut settings = Map::new();
    settings.insert("site_url".into(), json!(site.url));
    settings.insert("username".into(), json!(site.user));
    registry().open(
        uuid::Uuid::now_v7(),
        settings,
        Secret::single("application_password", password.to_string().into()),
    )
}

fn wordpress() -> std::sync::Arc<dyn Connector> {
    registry().get("wordpress").expect("registered").clone()
}

async fn list_all(
    conn: &Connection,
    resource: &str,
    req: ListRequest,
) -> anyhow::Result<Vec<connectors::Record>> {
    let wp = wordpress();
    let mut all = Vec::new();
    let mut req = req;
    loop {
        let page = wp.list(conn, resource, &req).await?;
        all.extend(page.records);
        match page.next {
            Some(n) => req.cursor = Some(n),
            None => return Ok(all),
        }
    }
}

#[tokio::test]
async fn a_listing_pages_through_every_seeded_post_once() -> anyhow::Result<()> {
    let site = WordPressSite::from_env();
    let conn = open(&site, &site.app_password);
    let posts = list_all(&conn, "posts", ListRequest::default()).await?;
    let ids: HashSet<_> = posts.iter().map(|r| r.external_id.clone()).collect();
    assert_eq!(ids.len(), posts.len(), "no post twice");
    let titles: HashSet<_> = posts.iter().map(|r| r.title.clone()).collect();
    for i in 0..300 {
        assert!(
            titles.contains(&format!("Seeded post {i}")),
            "post {i} listed"
        );
    }
    // Drafts come too (every fifth seeded post is one), with raw fields.
    assert!(posts.iter().any(|r| r.status.as_deref() == Some("draft")));
    assert!(posts.iter().all(|r| r.updated_at.is_some()));
    Ok(())
}

#[tokio::test]
async fn pages_are_at_most_a_hundred_and_say_the_total() -> anyhow::Result<()> {
    let site = WordPressSite::from_env();
    let conn = open(&site, &site.app_password);
    let page = wordpress()
        .list(
            &conn,
            "media",
            &ListRequest {
                page_size: Some(500),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(page.records.len(), 100);
    assert!(page.total.unwrap() >= 100);
    Ok(())
}

#[tokio::test]
async fn an_incremental_listing_returns_only_what_changed_since() -> anyhow::Result<()> {
    let site = WordPressSite::from_env();
    let conn = open(&site, &site.app_password);
    let wp = wordpress();
    // WordPress keeps times to the second.
    let since = chrono::Utc::now() - chrono::TimeDelta::seconds(1);
    let created = wp
        .create(
            &conn,
            "pages",
            &json!({"title": "Changed just now", "status": "draft"}),
        )
        .await?;
    let changed = list_all(
        &conn,
        "pages",
        ListRequest {
            updated_since: Some(since),
            ..Default::default()
        },
    )
    .await?;
    assert!(changed.iter().any(|r| r.external_id == created.external_id));
    assert!(
        changed.iter().all(|r| r.updated_at.unwrap() > since),
        "nothing older"
    );
    assert!(changed.len() < 120, "not the seeded pages");
    wp.delete(&conn, "pages", &created.external_id).await?;
    Ok(())
}

#[tokio::test]
async fn a_post_is_created_read_updated_and_deleted() -> anyhow::Result<()> {
    let site = WordPressSite::from_env();
    let conn = open(&site, &site.app_password);
    let wp = wordpress();
    let created = wp
        .create(
            &conn,
            "posts",
            &json!({"title": "Round trip", "content": "<p>Hello</p>", "status": "draft"}),
        )
        .await?;
    assert_eq!(created.title, "Round trip");
    assert_eq!(created.status.as_deref(), Some("draft"));
    let read = wp.get(&conn, "posts", &created.external_id).await?;
    assert_eq!(read.raw["content"]["raw"], "<p>Hello</p>");
    let updated = wp
        .update(
            &conn,
            "posts",
            &created.external_id,
            &json!({"title": "Round trip, edited"}),
        )
        .await?;
    assert_eq!(updated.title, "Round trip, edited");
    wp.delete(&conn, "posts", &created.external_id).await?;
    let gone = site.get(&format!("posts/{}", created.external_id)).await?;
    assert_eq!(gone.status(), 404, "deleted for good, not trashed");
    assert!(matches!(
        wp.get(&conn, "posts", &created.external_id).await,
        Err(ConnectorError::NotFound { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn a_file_is_uploaded_to_the_media_library_and_deleted() -> anyhow::Result<()> {
    use base64::Engine;
    let site = WordPressSite::from_env();
    let conn = open(&site, &site.app_password);
    let wp = wordpress();
    let bytes = b"hello from the connector test\n";
    let created = wp
        .create(
            &conn,
            "media",
            &json!({
                "filename": "connector-test.txt",
                "content_type": "text/plain",
                "data_base64": base64::engine::general_purpose::STANDARD.encode(bytes),
                "title": "Uploaded by a test",
            }),
        )
        .await?;
    assert_eq!(created.title, "Uploaded by a test");
    let source = created.fields["source_url"].as_str().unwrap().to_string();
    assert_eq!(reqwest::get(&source).await?.bytes().await?.as_ref(), bytes);
    wp.delete(&conn, "media", &created.external_id).await?;
    assert_eq!(
        site.get(&format!("media/{}", created.external_id))
            .await?
            .status(),
        404
    );
    Ok(())
}

#[tokio::test]
async fn a_wrong_application_password_is_refused_credentials() {
    let site = WordPressSite::from_env();
    let conn = open(&site, "abcd efgh ijkl mnop qrst uvwx");
    let err = wordpress().verify(&conn).await.unwrap_err();
    assert!(err.needs_reconnect(), "{err}");
    assert!(
        !err.to_string().contains("abcd"),
        "no credential in the message"
    );
}

#[tokio::test]
async fn the_right_application_password_verifies_as_its_user() -> anyhow::Result<()> {
    let site = WordPressSite::from_env();
    let conn = open(&site, &site.app_password);
    assert_eq!(wordpress().verify(&conn).await?, "admin");
    Ok(())
}

#[tokio::test]
async fn a_site_that_is_not_wordpress_is_a_clear_error() {
    let site = WordPressSite::from_env();
    let mut conn = open(&site, &site.app_password);
    conn.settings.insert(
        "site_url".into(),
        json!(format!("{}/nothing-here", site.url)),
    );
    let err = wordpress().verify(&conn).await.unwrap_err();
    assert!(err.to_string().contains("no WordPress REST API"), "{err}");
}

#[tokio::test]
async fn invalid_fields_are_reported_field_by_field() {
    let site = WordPressSite::from_env();
    let conn = open(&site, &site.app_password);
    let err = wordpress()
        .create(
            &conn,
            "posts",
            &json!({"title": "x", "status": "not-a-status"}),
        )
        .await
        .unwrap_err();
    match err {
        ConnectorError::Invalid { fields, .. } => {
            assert_eq!(fields.len(), 1);
            assert_eq!(fields[0].field, "status");
        }
        other => panic!("expected a validation error, got {other}"),
    }
}

#[tokio::test]
async fn an_unknown_resource_is_a_bad_request() {
    let site = WordPressSite::from_env();
    let conn = open(&site, &site.app_password);
    let err = wordpress()
        .list(&conn, "comments", &ListRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::BadRequest(_)), "{err}");
}
