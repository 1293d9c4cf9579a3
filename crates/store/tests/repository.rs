//! The repository suite, run unchanged on SQLite and PostgreSQL.

use anyhow::Result;
use domain::audit::{AuditFilter, NewAuditEntry};
use domain::paging::Limit;
use domain::tokens::{self, Scope};
use domain::validation::DisplayName;
use store::idempotency::{self, StoredResponse};
use store::{audit, tenants, tokens as token_repo, usage, Store, StoreError};
use testkit::{Db, TestDb};

async fn setup(db: Db) -> Result<(TestDb, Store)> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    Ok((test_db, store))
}

fn name(s: &str) -> DisplayName {
    DisplayName::parse(s).unwrap()
}

async fn a_tenant_is_found_by_slug_or_id_and_slugs_are_unique(db: Db) -> Result<()> {
    let (_db, store) = setup(db).await?;
    let t = tenants::create(&store, &name("Acme Corp")).await?;
    assert_eq!(tenants::find(&store, "acme-corp").await?.unwrap().id, t.id);
    assert_eq!(
        tenants::find(&store, &t.id.to_string())
            .await?
            .unwrap()
            .slug,
        "acme-corp"
    );
    assert!(tenants::find(&store, "nobody").await?.is_none());
    assert!(matches!(
        tenants::create(&store, &name("ACME corp")).await,
        Err(StoreError::Conflict(_))
    ));
    Ok(())
}

async fn migrating_twice_changes_nothing(db: Db) -> Result<()> {
    let (_db, store) = setup(db).await?;
    store.migrate().await?;
    assert!(store.migration_status().await?.pending.is_empty());
    Ok(())
}

async fn a_token_is_found_by_its_hash_only(db: Db) -> Result<()> {
    let (_db, store) = setup(db).await?;
    let t = tenants::create(&store, &name("Acme")).await?;
    let mut tx = store
        .write(&domain::Principal::operator(t.id).scope())
        .await?;
    let (created, secret) =
        token_repo::issue(&mut tx, &name("ci"), &[Scope::Read], Default::default()).await?;
    tx.commit().await?;
    let found = token_repo::find_by_hash(&store, &secret.hash)
        .await?
        .expect("found by hash");
    assert_eq!(found.id, created.id);
    assert_eq!(found.scopes, vec![Scope::Read]);
    assert!(
        token_repo::find_by_hash(&store, &tokens::hash_token("bzs_other"))
            .await?
            .is_none()
    );
    Ok(())
}

async fn repositories_never_return_another_tenants_rows(db: Db) -> Result<()> {
    let (_db, store) = setup(db).await?;
    let a = tenants::create(&store, &name("Tenant A")).await?;
    let b = tenants::create(&store, &name("Tenant B")).await?;
    let mut tx = store
        .write(&domain::Principal::operator(a.id).scope())
        .await?;
    let (a_token, _) =
        token_repo::issue(&mut tx, &name("a"), &[Scope::Admin], Default::default()).await?;
    tx.commit().await?;

    let mut tx = store
        .write(&domain::Principal::operator(b.id).scope())
        .await?;
    assert!(matches!(
        token_repo::get(&mut tx, a_token.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        token_repo::revoke(&mut tx, a_token.id).await,
        Err(StoreError::NotFound)
    ));
    let page = audit::list(
        &mut tx,
        &AuditFilter::default(),
        None,
        Limit::parse(Some(200)).unwrap(),
    )
    .await?;
    assert!(page.items.iter().all(|e| e.tenant_id == b.id));
    assert_eq!(tenants::current(&mut tx).await?.id, b.id);
    tx.commit().await?;

    let mut tx = store
        .read(&domain::Principal::operator(a.id).scope())
        .await?;
    assert!(
        token_repo::get(&mut tx, a_token.id)
            .await?
            .revoked_at
            .is_none(),
        "B's revoke did nothing"
    );
    Ok(())
}

async fn a_second_response_under_the_same_idempotency_key_conflicts(db: Db) -> Result<()> {
    let (_db, store) = setup(db).await?;
    let t = tenants::create(&store, &name("Acme")).await?;
    let stored = StoredResponse {
        request_hash: "h".into(),
        status: 201,
        body: "{}".into(),
    };
    let mut tx = store
        .write(&domain::Principal::operator(t.id).scope())
        .await?;
    idempotency::save(&mut tx, "k", &stored).await?;
    tx.commit().await?;
    let mut tx = store
        .write(&domain::Principal::operator(t.id).scope())
        .await?;
    assert!(matches!(
        idempotency::save(&mut tx, "k", &stored).await,
        Err(StoreError::Conflict(_))
    ));
    Ok(())
}

async fn an_uncommitted_change_leaves_no_audit_entry(db: Db) -> Result<()> {
    let (_db, store) = setup(db).await?;
    let t = tenants::create(&store, &name("Acme")).await?;
    let scope = domain::Principal::operator(t.id).scope();
    {
        let mut tx = store.write(&scope).await?;
        tenants::rename(&mut tx, &name("Half way")).await?;
        audit::record(&mut tx, NewAuditEntry::new("tenant.update", "tenant", None)).await?;
        // Dropped without commit: a failure half way.
    }
    let mut tx = store.read(&scope).await?;
    assert_eq!(tenants::current(&mut tx).await?.name, "Acme");
    let filter = AuditFilter {
        action: Some("tenant.update".into()),
        ..Default::default()
    };
    assert!(
        audit::list(&mut tx, &filter, None, Limit::parse(None).unwrap())
            .await?
            .items
            .is_empty()
    );
    Ok(())
}

async fn audit_rows_cannot_be_changed_or_deleted(db: Db) -> Result<()> {
    let (test_db, store) = setup(db).await?;
    let t = tenants::create(&store, &name("Acme")).await?;
    let id = t.id.to_string();
    match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&test_db.config.url).await?;
            assert!(sqlx::query("UPDATE audit_logs SET action = 'x'")
                .execute(&pool)
                .await
                .is_err());
            assert!(sqlx::query("DELETE FROM audit_logs")
                .execute(&pool)
                .await
                .is_err());
        }
        Db::Postgres => {
            let pool = test_db.raw_app_pool().await?;
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            let err = sqlx::query("UPDATE audit_logs SET action = 'x'")
                .execute(&mut *tx)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("permission denied"), "{err}");
            tx.rollback().await?;
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            assert!(sqlx::query("DELETE FROM audit_logs")
                .execute(&mut *tx)
                .await
                .is_err());
        }
    }
    Ok(())
}

async fn many_usage_records_are_written_at_once_for_their_tenant_only(db: Db) -> Result<()> {
    let (_db, store) = setup(db).await?;
    let a = tenants::create(&store, &name("Tenant A")).await?;
    let b = tenants::create(&store, &name("Tenant B")).await?;
    let now = chrono::Utc::now();
    // More rows than one INSERT carries, so the writer splits them.
    let records: Vec<usage::UsageRecord> = (0..600)
        .map(|i| usage::UsageRecord {
            id: uuid::Uuid::now_v7(),
            agent_id: None,
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            input_tokens: 10,
            output_tokens: i,
            cost_micros: 1,
            latency_ms: 3,
            created_at: now,
        })
        .collect();
    let mut tx = store
        .write(&domain::Principal::operator(a.id).scope())
        .await?;
    usage::record_all(&mut tx, &records.iter().collect::<Vec<_>>()).await?;
    tx.commit().await?;
    let window = (
        now - chrono::Duration::hours(1),
        now + chrono::Duration::hours(1),
    );
    let sums = |t| {
        let store = store.clone();
        async move {
            let mut tx = store.read(&domain::Principal::operator(t).scope()).await?;
            let s = usage::summary(&mut tx, usage::Group::Model, window.0, window.1).await?;
            tx.commit().await?;
            anyhow::Ok(s)
        }
    };
    let of_a = sums(a.id).await?;
    assert_eq!(of_a.len(), 1);
    assert_eq!(
        (of_a[0].calls, of_a[0].input_tokens, of_a[0].output_tokens),
        (600, 6000, (0..600).sum::<i64>())
    );
    assert!(sums(b.id).await?.is_empty());
    Ok(())
}

testkit::on_both_backends!(
    a_tenant_is_found_by_slug_or_id_and_slugs_are_unique,
    migrating_twice_changes_nothing,
    a_token_is_found_by_its_hash_only,
    repositories_never_return_another_tenants_rows,
    a_second_response_under_the_same_idempotency_key_conflicts,
    an_uncommitted_change_leaves_no_audit_entry,
    audit_rows_cannot_be_changed_or_deleted,
    many_usage_records_are_written_at_once_for_their_tenant_only,
);

/// PostgreSQL: row-level security holds even for SQL that forgets the tenant.
mod row_level_security {
    use super::*;

    async fn two_tenants_with_entries() -> Result<(TestDb, String, String)> {
        let (test_db, store) = setup(Db::Postgres).await?;
        let a = tenants::create(&store, &name("Tenant A")).await?;
        let b = tenants::create(&store, &name("Tenant B")).await?;
        for t in [a.id, b.id] {
            let mut tx = store.write(&domain::Principal::operator(t).scope()).await?;
            audit::record(&mut tx, NewAuditEntry::new("probe.write", "probe", None)).await?;
            tx.commit().await?;
        }
        Ok((test_db, a.id.to_string(), b.id.to_string()))
    }

    #[tokio::test]
    async fn a_query_without_a_tenant_filter_or_setting_returns_nothing() -> Result<()> {
        let (test_db, _, _) = two_tenants_with_entries().await?;
        let pool = test_db.raw_app_pool().await?;
        for table in [
            "audit_logs",
            "api_tokens",
            "tenants",
            "memberships",
            "idempotency_keys",
            "connector_configs",
            "connector_records",
            "agent_configs",
            "knowledge_base",
        ] {
            let (n,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&pool)
                .await?;
            assert_eq!(n, 0, "{table} is hidden without app.tenant_id");
        }
        let su = test_db.raw_superuser_pool().await?;
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM audit_logs")
            .fetch_one(&su)
            .await?;
        assert!(n >= 4, "the rows do exist");
        Ok(())
    }

    #[tokio::test]
    async fn a_query_without_a_tenant_filter_sees_only_the_tenant_set_for_the_transaction(
    ) -> Result<()> {
        let (test_db, a, b) = two_tenants_with_entries().await?;
        let pool = test_db.raw_app_pool().await?;
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(&b)
            .execute(&mut *tx)
            .await?;
        let rows: Vec<(uuid::Uuid,)> = sqlx::query_as("SELECT tenant_id FROM audit_logs")
            .fetch_all(&mut *tx)
            .await?;
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|(t,)| t.to_string() == b));
        // Writing a row for another tenant is refused by the policy's check.
        let err = sqlx::query("INSERT INTO audit_logs (id, tenant_id, action, resource_type, created_at) VALUES ($1, $2::uuid, 'x', 'x', now())")
            .bind(uuid::Uuid::now_v7())
            .bind(&a)
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("row-level security"), "{err}");
        Ok(())
    }

    #[tokio::test]
    async fn a_pooled_connection_never_carries_a_tenant_into_its_next_use() -> Result<()> {
        let mut test_db = TestDb::create(Db::Postgres).await?;
        test_db.config.max_connections = 1;
        let store = test_db.store().await?;
        let a = tenants::create(&store, &name("Tenant A")).await?;
        let mut tx = store
            .read(&domain::Principal::operator(a.id).scope())
            .await?;
        audit::list(
            &mut tx,
            &AuditFilter::default(),
            None,
            Limit::parse(None).unwrap(),
        )
        .await?;
        tx.commit().await?;
        // The one connection of the pool served tenant A's read just now.
        assert_eq!(store.idle_session_tenant().await?, None);
        Ok(())
    }

    #[tokio::test]
    async fn the_runtime_role_passes_the_isolation_checks() -> Result<()> {
        let (_db, store) = setup(Db::Postgres).await?;
        let report = store.security_report().await?.expect("PostgreSQL reports");
        assert_eq!(report.role, "bizosaas_app");
        assert!(report.problems().is_empty(), "{:?}", report.problems());
        Ok(())
    }

    #[tokio::test]
    async fn the_owner_role_is_flagged_when_used_at_runtime() -> Result<()> {
        let test_db = TestDb::create(Db::Postgres).await?;
        test_db.store().await?;
        let owner =
            store::Store::connect(&store::DbConfig::new(test_db.owner_url().unwrap())).await?;
        let problems = owner.security_report().await?.unwrap().problems();
        assert!(
            problems.iter().any(|p| p.contains("owns tables")),
            "{problems:?}"
        );
        Ok(())
    }
}
