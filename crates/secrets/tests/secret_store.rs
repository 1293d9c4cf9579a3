//! One suite for every SecretStore adapter: the local sealed store on SQLite
//! and PostgreSQL, and OpenBao with a token and with AppRole.

use anyhow::Result;
use domain::secrets::{ExposeSecret, Secret, SecretPath, SecretStore, SecretStoreError};
use domain::validation::DisplayName;
use domain::TenantId;
use secrets::local::keyring::KeySource;
use secrets::local::LocalStore;
use secrets::vault::{VaultAuth, VaultStore};
use std::sync::Arc;
use std::time::Duration;
use testkit::vault::TestVault;
use testkit::{Db, TestDb};

#[derive(Clone, Copy, Debug)]
enum Kind {
    LocalSqlite,
    LocalPostgres,
    VaultToken,
    VaultAppRole,
}

struct Fixture {
    secrets: Arc<dyn SecretStore>,
    tenant: TenantId,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

async fn fixture(kind: Kind) -> Result<Fixture> {
    let db = TestDb::create(match kind {
        Kind::LocalPostgres => Db::Postgres,
        _ => Db::Sqlite,
    })
    .await?;
    let store = db.store().await?;
    let tenant = store::tenants::create(&store, &DisplayName::parse("Acme").unwrap())
        .await?
        .id;
    let dir = tempfile::tempdir()?;
    let secrets: Arc<dyn SecretStore> = match kind {
        Kind::LocalSqlite | Kind::LocalPostgres => Arc::new(LocalStore::open(
            store,
            KeySource::File(dir.path().join("master.key")),
        )?),
        Kind::VaultToken => VaultStore::new(TestVault::create().await?.token_config().await?)?,
        Kind::VaultAppRole => {
            let vault = TestVault::create().await?;
            let (role_id, secret_id) = vault
                .approle(Duration::from_secs(3600), Duration::from_secs(7200))
                .await?;
            VaultStore::new(vault.config(VaultAuth::AppRole {
                mount: "approle".into(),
                role_id,
                secret_id: secret_id.into(),
            }))?
        }
    };
    Ok(Fixture {
        secrets,
        tenant,
        _db: db,
        _dir: dir,
    })
}

fn key(value: &str) -> Secret {
    Secret::single("api_key", value.to_string().into())
}

fn value(s: &Secret) -> String {
    s.get("api_key").unwrap().expose_secret().to_string()
}

async fn a_stored_secret_reads_back(kind: Kind) -> Result<()> {
    let f = fixture(kind).await?;
    let path = SecretPath::api_key(f.tenant, "openai").unwrap();
    f.secrets.put(&path, &key("sk-first-1234")).await?;
    assert_eq!(value(&f.secrets.get(&path).await?), "sk-first-1234");
    Ok(())
}

async fn a_secret_with_several_fields_keeps_them_all(kind: Kind) -> Result<()> {
    let f = fixture(kind).await?;
    let path = SecretPath::connection(f.tenant, uuid::Uuid::now_v7());
    let mut s = Secret::default();
    s.insert("access_token", "at-1".to_string().into());
    s.insert("refresh_token", "rt-2".to_string().into());
    f.secrets.put(&path, &s).await?;
    let back = f.secrets.get(&path).await?;
    assert_eq!(back.get("access_token").unwrap().expose_secret(), "at-1");
    assert_eq!(back.get("refresh_token").unwrap().expose_secret(), "rt-2");
    Ok(())
}

async fn storing_again_replaces_the_value(kind: Kind) -> Result<()> {
    let f = fixture(kind).await?;
    let path = SecretPath::api_key(f.tenant, "anthropic").unwrap();
    f.secrets.put(&path, &key("first")).await?;
    f.secrets.put(&path, &key("second")).await?;
    assert_eq!(value(&f.secrets.get(&path).await?), "second");
    Ok(())
}

async fn a_deleted_secret_is_gone(kind: Kind) -> Result<()> {
    let f = fixture(kind).await?;
    let path = SecretPath::api_key(f.tenant, "openrouter").unwrap();
    f.secrets.put(&path, &key("v1")).await?;
    f.secrets.put(&path, &key("v2")).await?;
    f.secrets.delete(&path).await?;
    assert!(matches!(
        f.secrets.get(&path).await,
        Err(SecretStoreError::NotFound(_))
    ));
    Ok(())
}

async fn reading_what_was_never_stored_is_not_found(kind: Kind) -> Result<()> {
    let f = fixture(kind).await?;
    let path = SecretPath::api_key(f.tenant, "nothing-here").unwrap();
    assert!(matches!(
        f.secrets.get(&path).await,
        Err(SecretStoreError::NotFound(_))
    ));
    f.secrets.delete(&path).await?;
    Ok(())
}

async fn the_end_to_end_check_passes(kind: Kind) -> Result<()> {
    let f = fixture(kind).await?;
    let checked = f.secrets.check().await?;
    assert!(checked.len() >= 3, "{checked:?}");
    Ok(())
}

macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod local_sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() -> anyhow::Result<()> { super::$name(super::Kind::LocalSqlite).await } )* }
        mod local_postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() -> anyhow::Result<()> { super::$name(super::Kind::LocalPostgres).await } )* }
        mod vault_token { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() -> anyhow::Result<()> { super::$name(super::Kind::VaultToken).await } )* }
        mod vault_approle { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() -> anyhow::Result<()> { super::$name(super::Kind::VaultAppRole).await } )* }
    };
}

on_every_store!(
    a_stored_secret_reads_back,
    a_secret_with_several_fields_keeps_them_all,
    storing_again_replaces_the_value,
    a_deleted_secret_is_gone,
    reading_what_was_never_stored_is_not_found,
    the_end_to_end_check_passes,
);
