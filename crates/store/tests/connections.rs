//! Connections and their synced records, on SQLite and PostgreSQL.

use anyhow::Result;
use chrono::{TimeDelta, Utc};
use domain::validation::DisplayName;
use domain::{Principal, TenantId};
use serde_json::{json, Map};
use store::connections::{self, Connection};
use store::synced::{self, NewRecord, Query, Sort};
use store::{tenants, Store, StoreError};
use testkit::{Db, TestDb};
use uuid::Uuid;

async fn tenant(store: &Store, name: &str) -> Result<TenantId> {
    Ok(tenants::create(store, &DisplayName::parse(name).unwrap())
        .await?
        .id)
}

async fn connection(store: &Store, t: TenantId) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let now = Utc::now();
    let mut tx = store.write(&Principal::operator(t).scope()).await?;
    connections::insert(
        &mut tx,
        &Connection::new(
            id,
            t,
            "wordpress",
            &format!("tenants/{}/connections/{id}", t.as_uuid()),
            Map::new(),
            now,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn record(id: u32, title: &str, minutes_ago: i64) -> NewRecord {
    NewRecord {
        external_id: id.to_string(),
        title: title.into(),
        status: Some(
            if id.is_multiple_of(2) {
                "publish"
            } else {
                "draft"
            }
            .into(),
        ),
        fields: Map::from_iter([("slug".to_string(), json!(format!("slug-{id}")))]),
        raw: json!({ "id": id }),
        remote_updated_at: Some(Utc::now() - TimeDelta::minutes(minutes_ago)),
    }
}

async fn upsert(
    store: &Store,
    t: TenantId,
    conn: Uuid,
    records: &[NewRecord],
    pass: Option<Uuid>,
) -> Result<u64> {
    let mut tx = store.write(&Principal::operator(t).scope()).await?;
    let n = synced::upsert(&mut tx, conn, "posts", records, pass, Utc::now()).await?;
    tx.commit().await?;
    Ok(n)
}

async fn list(store: &Store, t: TenantId, conn: Uuid, q: Query) -> Result<Vec<String>> {
    let mut tx = store.read(&Principal::operator(t).scope()).await?;
    let page = synced::list(&mut tx, conn, "posts", &q).await?;
    tx.commit().await?;
    Ok(page.items.into_iter().map(|r| r.external_id).collect())
}

fn query() -> Query {
    Query {
        limit: 200,
        ..Default::default()
    }
}

async fn a_tenant_connects_each_connector_once(db: Db) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    let t = tenant(&store, "Acme").await?;
    connection(&store, t).await?;
    assert!(
        matches!(connection(&store, t).await, Err(e) if matches!(e.downcast_ref::<StoreError>(), Some(StoreError::Conflict(_))))
    );
    Ok(())
}

async fn records_upserted_twice_are_stored_once_with_the_latest_values(db: Db) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    let t = tenant(&store, "Acme").await?;
    let conn = connection(&store, t).await?;
    let batch: Vec<_> = (0..450)
        .map(|i| record(i, &format!("Post {i}"), i64::from(i)))
        .collect();
    upsert(&store, t, conn, &batch, None).await?;
    let mut changed = batch.clone();
    changed[7].title = "Post 7, edited".into();
    upsert(&store, t, conn, &changed, None).await?;
    let mut tx = store.read(&Principal::operator(t).scope()).await?;
    let page = synced::list(
        &mut tx,
        conn,
        "posts",
        &Query {
            limit: 200,
            ..query()
        },
    )
    .await?;
    let seven = synced::get(&mut tx, conn, "posts", "7").await?;
    let counts = synced::counts(&mut tx).await?;
    tx.commit().await?;
    assert_eq!(page.items.len(), 200);
    assert_eq!(seven.title, "Post 7, edited");
    assert_eq!(counts, vec![(conn, "posts".to_string(), 450)]);
    Ok(())
}

async fn an_id_listed_twice_in_one_page_keeps_its_last_version(db: Db) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    let t = tenant(&store, "Acme").await?;
    let conn = connection(&store, t).await?;
    let page = vec![
        record(1, "first", 2),
        record(2, "other", 2),
        record(1, "second", 1),
    ];
    upsert(&store, t, conn, &page, None).await?;
    let mut tx = store.read(&Principal::operator(t).scope()).await?;
    assert_eq!(
        synced::get(&mut tx, conn, "posts", "1").await?.title,
        "second"
    );
    tx.commit().await?;
    assert_eq!(list(&store, t, conn, query()).await?.len(), 2);
    Ok(())
}

async fn a_full_pass_buries_what_it_did_not_see_and_a_record_seen_again_revives(
    db: Db,
) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    let t = tenant(&store, "Acme").await?;
    let conn = connection(&store, t).await?;
    let all: Vec<_> = (0..5).map(|i| record(i, "x", 1)).collect();
    upsert(&store, t, conn, &all, Some(Uuid::now_v7())).await?;
    let pass = Uuid::now_v7();
    upsert(&store, t, conn, &all[..3], Some(pass)).await?;
    let mut tx = store.write(&Principal::operator(t).scope()).await?;
    assert_eq!(
        synced::bury_unseen(&mut tx, conn, "posts", pass, Utc::now()).await?,
        2
    );
    tx.commit().await?;
    assert_eq!(list(&store, t, conn, query()).await?.len(), 3);
    let mut buried = list(
        &store,
        t,
        conn,
        Query {
            deleted: true,
            ..query()
        },
    )
    .await?;
    buried.sort();
    assert_eq!(buried, ["3", "4"]);
    upsert(&store, t, conn, &all[3..4], None).await?;
    assert_eq!(
        list(&store, t, conn, query()).await?.len(),
        4,
        "seen again, alive again"
    );
    Ok(())
}

async fn the_high_water_mark_is_the_newest_provider_time(db: Db) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    let t = tenant(&store, "Acme").await?;
    let conn = connection(&store, t).await?;
    let recs = vec![record(1, "old", 60), record(2, "new", 5)];
    upsert(&store, t, conn, &recs, None).await?;
    let mut tx = store.read(&Principal::operator(t).scope()).await?;
    let hw = synced::high_water(&mut tx, conn, "posts").await?.unwrap();
    tx.commit().await?;
    let want = recs[1].remote_updated_at.unwrap();
    assert!((hw - want).num_milliseconds().abs() < 1, "{hw} vs {want}");
    Ok(())
}

async fn search_filters_and_sorts_page_without_gaps(db: Db) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    let t = tenant(&store, "Acme").await?;
    let conn = connection(&store, t).await?;
    let recs: Vec<_> = (0..30)
        .map(|i| {
            record(
                i,
                &format!("{} 100%_off {i:02}", if i < 20 { "Apple" } else { "Pear" }),
                i64::from(i),
            )
        })
        .collect();
    upsert(&store, t, conn, &recs, None).await?;
    let apples = list(
        &store,
        t,
        conn,
        Query {
            search: Some("APPLE".into()),
            ..query()
        },
    )
    .await?;
    assert_eq!(apples.len(), 20, "case-insensitive");
    let like = list(
        &store,
        t,
        conn,
        Query {
            search: Some("%_".into()),
            ..query()
        },
    )
    .await?;
    assert_eq!(like.len(), 30, "% and _ match themselves");
    let none = list(
        &store,
        t,
        conn,
        Query {
            search: Some("a%z".into()),
            ..query()
        },
    )
    .await?;
    assert!(none.is_empty());
    let drafts = list(
        &store,
        t,
        conn,
        Query {
            status: Some("draft".into()),
            ..query()
        },
    )
    .await?;
    assert_eq!(drafts.len(), 15);
    let slug = list(
        &store,
        t,
        conn,
        Query {
            search: Some("slug-7".into()),
            ..query()
        },
    )
    .await?;
    assert_eq!(slug, ["7"], "fields are searched too");
    for sort in [
        Sort::NewestFirst,
        Sort::OldestFirst,
        Sort::TitleAsc,
        Sort::TitleDesc,
    ] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let mut tx = store.read(&Principal::operator(t).scope()).await?;
            let page = synced::list(
                &mut tx,
                conn,
                "posts",
                &Query {
                    sort,
                    cursor,
                    limit: 4,
                    ..query()
                },
            )
            .await?;
            tx.commit().await?;
            seen.extend(page.items.into_iter().map(|r| r.external_id));
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let expected: Vec<String> = match sort {
            Sort::NewestFirst => (0..30).map(|i| i.to_string()).collect(),
            Sort::OldestFirst => (0..30).rev().map(|i| i.to_string()).collect(),
            Sort::TitleAsc => (0..30).map(|i| i.to_string()).collect(),
            Sort::TitleDesc => (0..30).rev().map(|i| i.to_string()).collect(),
        };
        assert_eq!(seen, expected, "{sort:?}");
    }
    Ok(())
}

async fn another_tenant_sees_and_touches_none_of_the_records(db: Db) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    let a = tenant(&store, "Acme").await?;
    let b = tenant(&store, "Globex").await?;
    let conn = connection(&store, a).await?;
    upsert(&store, a, conn, &[record(1, "secret plans", 1)], None).await?;
    assert!(list(&store, b, conn, query()).await?.is_empty());
    let mut tx = store.read(&Principal::operator(b).scope()).await?;
    assert!(matches!(
        synced::get(&mut tx, conn, "posts", "1").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        connections::get(&mut tx, conn).await,
        Err(StoreError::NotFound)
    ));
    assert!(connections::list(&mut tx).await?.is_empty());
    assert!(synced::counts(&mut tx).await?.is_empty());
    tx.commit().await?;
    // Writing under the other tenant's connection id is refused outright.
    assert!(upsert(&store, b, conn, &[record(2, "planted", 1)], None)
        .await
        .is_err());
    let mut tx = store.write(&Principal::operator(b).scope()).await?;
    assert_eq!(
        synced::bury_unseen(&mut tx, conn, "posts", Uuid::now_v7(), Utc::now()).await?,
        0
    );
    tx.commit().await?;
    assert_eq!(list(&store, a, conn, query()).await?, ["1"], "untouched");
    Ok(())
}

async fn deleting_a_connection_deletes_its_records(db: Db) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    let t = tenant(&store, "Acme").await?;
    let conn = connection(&store, t).await?;
    upsert(&store, t, conn, &[record(1, "x", 1)], None).await?;
    let mut tx = store.write(&Principal::operator(t).scope()).await?;
    connections::delete(&mut tx, conn).await?;
    assert!(synced::counts(&mut tx).await?.is_empty());
    tx.commit().await?;
    Ok(())
}

testkit::on_both_backends!(
    a_tenant_connects_each_connector_once,
    records_upserted_twice_are_stored_once_with_the_latest_values,
    an_id_listed_twice_in_one_page_keeps_its_last_version,
    a_full_pass_buries_what_it_did_not_see_and_a_record_seen_again_revives,
    the_high_water_mark_is_the_newest_provider_time,
    search_filters_and_sorts_page_without_gaps,
    another_tenant_sees_and_touches_none_of_the_records,
    deleting_a_connection_deletes_its_records,
);
