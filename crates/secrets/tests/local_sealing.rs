//! The local sealed store: ciphertext only in the database, tampering
//! detected, and master-key rotation that keeps every value readable.

use anyhow::Result;
use domain::secrets::{ExposeSecret, Secret, SecretPath, SecretStore, SecretStoreError};
use domain::validation::DisplayName;
use secrets::local::keyring::{self, KeySource};
use secrets::local::LocalStore;
use testkit::{Db, TestDb};

const KEY: &str = "sk-proj-local-sealed-4242";

async fn setup(db: Db) -> Result<(TestDb, store::Store, domain::TenantId, tempfile::TempDir)> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    let tenant = store::tenants::create(&store, &DisplayName::parse("Acme").unwrap())
        .await?
        .id;
    Ok((test_db, store, tenant, tempfile::tempdir()?))
}

fn secret_store(tenant: domain::TenantId) -> domain::SystemScope {
    domain::SystemScope::new(tenant, domain::SystemJob::SecretStore)
}

async fn raw_ciphertext(
    store: &store::Store,
    tenant: domain::TenantId,
    path: &str,
) -> Result<store::sealed::SealedRow> {
    let mut tx = store.system_read(&secret_store(tenant)).await?;
    let row = store::sealed::get(&mut tx, path).await?.expect("row");
    tx.commit().await?;
    Ok(row)
}

async fn overwrite(
    store: &store::Store,
    tenant: domain::TenantId,
    row: &store::sealed::SealedRow,
) -> Result<()> {
    let mut tx = store.system_write(&secret_store(tenant)).await?;
    store::sealed::put(&mut tx, row).await?;
    tx.commit().await?;
    Ok(())
}

/// A local store with its key file in `dir`, and the path of the tenant's OpenAI key.
fn seal_key(
    store: &store::Store,
    tenant: domain::TenantId,
    dir: &std::path::Path,
) -> Result<(LocalStore, SecretPath)> {
    let local = LocalStore::open(store.clone(), KeySource::File(dir.join("master.key")))?;
    Ok((local, SecretPath::api_key(tenant, "openai").unwrap()))
}

async fn a_tampered_ciphertext_fails_loudly_instead_of_yielding_a_key(db: Db) -> Result<()> {
    let (_db, store, tenant, dir) = setup(db).await?;
    let (local, path) = seal_key(&store, tenant, dir.path())?;
    local
        .put(&path, &Secret::single("api_key", KEY.to_string().into()))
        .await?;

    let mut row = raw_ciphertext(&store, tenant, path.as_str()).await?;
    assert!(!String::from_utf8_lossy(&row.ciphertext).contains(KEY));
    let last = row.ciphertext.len() - 1;
    row.ciphertext[last] ^= 0x01;
    overwrite(&store, tenant, &row).await?;

    match local.get(&path).await {
        Err(SecretStoreError::Tampered(p)) => assert_eq!(p, path.as_str()),
        other => panic!("expected Tampered, got {other:?}"),
    }
    Ok(())
}

async fn a_ciphertext_copied_to_another_tenant_does_not_open(db: Db) -> Result<()> {
    let (_db, store, tenant, dir) = setup(db).await?;
    let other = store::tenants::create(&store, &DisplayName::parse("Other").unwrap())
        .await?
        .id;
    let (local, path) = seal_key(&store, tenant, dir.path())?;
    local
        .put(&path, &Secret::single("api_key", KEY.to_string().into()))
        .await?;
    let mut row = raw_ciphertext(&store, tenant, path.as_str()).await?;
    let stolen = SecretPath::api_key(other, "openai").unwrap();
    row.path = stolen.as_str().to_string();
    overwrite(&store, other, &row).await?;
    assert!(matches!(
        local.get(&stolen).await,
        Err(SecretStoreError::Tampered(_))
    ));
    Ok(())
}

async fn rotating_the_master_key_rewraps_everything_and_retires_the_old_key(db: Db) -> Result<()> {
    let (_db, store, tenant, dir) = setup(db).await?;
    let file = dir.path().join("master.key");
    // A running server, and the operator's rotation as another process would do it.
    let server = LocalStore::open(store.clone(), KeySource::File(file.clone()))?;
    let old_id = server.key_ids()[0].clone();
    let paths: Vec<SecretPath> = (0..5)
        .map(|i| SecretPath::api_key(tenant, &format!("svc-{i}")).unwrap())
        .collect();
    for p in &paths {
        server
            .put(p, &Secret::single("api_key", format!("{KEY}-{p}").into()))
            .await?;
    }

    let new_id = keyring::add_primary(&file)?;
    let operator = LocalStore::open(store.clone(), KeySource::File(file.clone()))?;
    let mut seen = 0;
    let rewrapped = operator.rewrap_all(|n| seen += n).await?;
    assert_eq!((rewrapped, seen), (5, 5));
    keyring::drop_old_keys(&file)?;

    // The server never restarted: it reads every value under the new key.
    for p in &paths {
        let s = server.get(p).await?;
        assert_eq!(
            s.get("api_key").unwrap().expose_secret(),
            &format!("{KEY}-{p}")
        );
        assert_eq!(
            raw_ciphertext(&store, tenant, p.as_str()).await?.key_id,
            new_id
        );
    }
    assert_ne!(old_id, new_id);
    assert_eq!(server.key_ids(), [new_id]);
    Ok(())
}

async fn an_environment_key_ring_opens_values_sealed_under_its_older_key(db: Db) -> Result<()> {
    use base64::Engine;
    let (_db, store, tenant, _dir) = setup(db).await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (old, new) = (b64.encode([1u8; 32]), b64.encode([2u8; 32]));
    let before = LocalStore::open(store.clone(), KeySource::Env(old.clone().into()))?;
    let path = SecretPath::api_key(tenant, "openai").unwrap();
    before
        .put(&path, &Secret::single("api_key", KEY.to_string().into()))
        .await?;
    let after = LocalStore::open(store.clone(), KeySource::Env(format!("{new},{old}").into()))?;
    assert_eq!(
        after
            .get(&path)
            .await?
            .get("api_key")
            .unwrap()
            .expose_secret(),
        KEY
    );
    assert_eq!(after.rewrap_all(|_| {}).await?, 1);
    let only_new = LocalStore::open(store.clone(), KeySource::Env(new.into()))?;
    assert_eq!(
        only_new
            .get(&path)
            .await?
            .get("api_key")
            .unwrap()
            .expose_secret(),
        KEY
    );
    Ok(())
}

testkit::on_both_backends!(
    a_tampered_ciphertext_fails_loudly_instead_of_yielding_a_key,
    a_ciphertext_copied_to_another_tenant_does_not_open,
    rotating_the_master_key_rewraps_everything_and_retires_the_old_key,
    an_environment_key_ring_opens_values_sealed_under_its_older_key,
);
