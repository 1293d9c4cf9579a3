//! OpenBao sessions and the cache in front of the store: tokens outlive
//! their TTL through renewal and re-login; a revocation on one instance
//! reaches the cache of another (PostgreSQL: by its notice; SQLite, where
//! only one process serves: within the one-second bound for other writers).

use anyhow::Result;
use domain::audit::RequestOrigin;
use domain::secrets::{ExposeSecret, Secret, SecretPath, SecretStore, SecretStoreError};
use domain::validation::DisplayName;
use secrets::vault::{VaultAuth, VaultStore};
use std::time::{Duration, Instant};
use testkit::vault::TestVault;
use testkit::{Db, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approle_session_outlives_its_token_ttl_and_max_ttl() -> Result<()> {
    let vault = TestVault::create().await?;
    // Tokens live 2 s and at most 4 s: reading for 7 s needs renewal and a new login.
    let (role_id, secret_id) = vault
        .approle(Duration::from_secs(2), Duration::from_secs(4))
        .await?;
    let store = VaultStore::new(vault.config(VaultAuth::AppRole {
        mount: "approle".into(),
        role_id,
        secret_id: secret_id.into(),
    }))?;
    let tenant = domain::TenantId::from_uuid(uuid::Uuid::now_v7());
    let path = SecretPath::api_key(tenant, "openai").unwrap();
    store
        .put(
            &path,
            &Secret::single("api_key", "sk-renewed".to_string().into()),
        )
        .await?;
    let until = Instant::now() + Duration::from_secs(7);
    while Instant::now() < until {
        let s = store.get(&path).await?;
        assert_eq!(s.get("api_key").unwrap().expose_secret(), "sk-renewed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_access_is_refused_not_reported_missing() -> Result<()> {
    let vault = TestVault::create().await?;
    let mut config = vault.token_config().await?;
    config.auth = VaultAuth::Token("not-a-real-token".to_string().into());
    let store = VaultStore::new(config)?;
    let path =
        SecretPath::api_key(domain::TenantId::from_uuid(uuid::Uuid::now_v7()), "openai").unwrap();
    assert!(matches!(
        store.get(&path).await,
        Err(SecretStoreError::Denied(_))
    ));
    Ok(())
}

async fn a_revocation_on_one_instance_clears_the_cache_of_another(db: Db) -> Result<()> {
    let vault = TestVault::create().await?;
    let test_db = TestDb::create(db).await?;
    let (store_a, store_b) = (test_db.store().await?, test_db.store().await?);
    store_a.listen_for_changes().await;
    let tenant = store::tenants::create(&store_a, &DisplayName::parse("Acme").unwrap())
        .await?
        .id;
    let backend = secrets::Backend::Vault(vault.token_config().await?);
    let a = secrets::open(&backend, &store_a, Duration::from_secs(300))?;
    let b = secrets::open(&backend, &store_b, Duration::from_secs(300))?;
    let path = SecretPath::api_key(tenant, "openai").unwrap();
    b.put(
        &path,
        &Secret::single("api_key", "sk-cached".to_string().into()),
    )
    .await?;
    let mut tx = store_b
        .write(&domain::Principal::operator(tenant).scope())
        .await?;
    store::api_keys::upsert(
        &mut tx,
        store::api_keys::NewApiKeyRef {
            service: "openai".into(),
            vault_path: path.as_str().into(),
            base_url: None,
            key_hint: "ched".into(),
            tested: None,
            origin: RequestOrigin::default(),
        },
    )
    .await?;
    tx.commit().await?;
    a.get(&path).await?; // now cached on instance A

    // Instance B revokes: the secret first, then the reference, as the API does.
    b.delete(&path).await?;
    let mut tx = store_b
        .write(&domain::Principal::operator(tenant).scope())
        .await?;
    store::api_keys::delete(&mut tx, "openai", RequestOrigin::default()).await?;
    tx.commit().await?;

    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match a.get(&path).await {
            Err(SecretStoreError::NotFound(_)) => return Ok(()),
            Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            other => anyhow::bail!("instance A still serves the revoked key: {other:?}"),
        }
    }
}

testkit::on_both_backends!(a_revocation_on_one_instance_clears_the_cache_of_another);
