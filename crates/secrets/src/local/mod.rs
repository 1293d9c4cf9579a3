//! The local sealed store, the embedded default: values sealed with
//! AES-256-GCM under per-value data keys (see [`seal`]), ciphertext in the
//! database (`sealed_secrets`), master keys outside it (see [`keyring`]).

pub mod keyring;
pub mod seal;

use crate::SecretsError;
use domain::secrets::{
    ExposeSecret, Secret, SecretFuture, SecretPath, SecretStore, SecretStoreError, SecretString,
};
use domain::{SystemJob, SystemScope};
use keyring::{KeySource, Keyring};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use store::sealed::{self, SealedRow};
use store::{Store, StoreError};
use zeroize::Zeroizing;

/// Secrets sealed into the database.
pub struct LocalStore {
    store: Store,
    source: KeySource,
    keyring: RwLock<Arc<Keyring>>,
}

fn unavailable(e: StoreError) -> SecretStoreError {
    match e {
        StoreError::Unavailable(m) => SecretStoreError::Unavailable(m),
        other => SecretStoreError::Other(other.to_string()),
    }
}

impl LocalStore {
    /// Opens the store, loading (or on first start creating) the master key.
    pub fn open(store: Store, source: KeySource) -> Result<Self, SecretsError> {
        let keyring = Keyring::load(&source)?;
        Ok(Self {
            store,
            source,
            keyring: RwLock::new(Arc::new(keyring)),
        })
    }

    fn ring(&self) -> Arc<Keyring> {
        self.keyring
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the key file again: a rotation by `bizosaas admin
    /// rotate-master-key` in another process is picked up without a restart.
    fn reload(&self) -> Result<Arc<Keyring>, SecretStoreError> {
        let ring = Arc::new(
            Keyring::load(&self.source).map_err(|e| SecretStoreError::Other(e.to_string()))?,
        );
        *self.keyring.write().unwrap_or_else(|e| e.into_inner()) = ring.clone();
        Ok(ring)
    }

    fn scope(path: &SecretPath) -> SystemScope {
        SystemScope::new(path.tenant(), SystemJob::SecretStore)
    }

    async fn put_sealed(&self, path: &SecretPath, secret: &Secret) -> Result<(), SecretStoreError> {
        // Seal with the newest primary key, in case a rotation just added one.
        let ring = match self.source {
            KeySource::File(_) => self.reload()?,
            KeySource::Env(_) => self.ring(),
        };
        let (key_id, master) = ring.primary();
        let plaintext = encode(secret);
        let s = seal::seal(master, key_id, path.as_str(), &plaintext);
        let row = SealedRow {
            path: path.as_str().to_string(),
            key_id: key_id.to_string(),
            wrapped_key: s.wrapped_key,
            ciphertext: s.ciphertext,
            updated_at: chrono::Utc::now(),
        };
        let mut tx = self
            .store
            .system_write(&Self::scope(path))
            .await
            .map_err(unavailable)?;
        sealed::put(&mut tx, &row).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn get_sealed(&self, path: &SecretPath) -> Result<Secret, SecretStoreError> {
        let mut tx = self
            .store
            .system_read(&Self::scope(path))
            .await
            .map_err(unavailable)?;
        let row = sealed::get(&mut tx, path.as_str())
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        let row = row.ok_or_else(|| SecretStoreError::NotFound(path.to_string()))?;
        let mut ring = self.ring();
        if ring.get(&row.key_id).is_none() {
            ring = self.reload()?;
        }
        let tampered = || SecretStoreError::Tampered(path.to_string());
        let master = ring.get(&row.key_id).ok_or_else(tampered)?;
        let plaintext = seal::open(
            master,
            &row.key_id,
            path.as_str(),
            &row.wrapped_key,
            &row.ciphertext,
        )
        .map_err(|_| tampered())?;
        decode(&plaintext).ok_or_else(tampered)
    }

    /// Re-wraps every data key under the primary master key, tenant by
    /// tenant, a batch at a time; returns how many were re-wrapped. Values
    /// stay readable throughout: rows under an older key open with it until
    /// they are re-wrapped.
    pub async fn rewrap_all(&self, mut progress: impl FnMut(usize)) -> Result<usize, SecretsError> {
        let ring = self.reload()?;
        let (primary_id, primary) = ring.primary();
        let mut done = 0;
        for tenant in store::tenants::all_ids(&self.store).await? {
            let scope = SystemScope::new(tenant, SystemJob::SecretStore);
            loop {
                let mut tx = self.store.system_write(&scope).await?;
                let rows = sealed::wrapped_by_other_keys(&mut tx, primary_id, 100).await?;
                if rows.is_empty() {
                    tx.commit().await?;
                    break;
                }
                for row in &rows {
                    let old = ring.get(&row.key_id).ok_or_else(|| {
                        SecretsError::Config(format!(
                            "{} is sealed with master key {}, which is not in the key ring",
                            row.path, row.key_id
                        ))
                    })?;
                    let wrapped = seal::rewrap(
                        (old, &row.key_id),
                        (primary, primary_id),
                        &row.path,
                        &row.wrapped_key,
                    )
                    .map_err(|_| {
                        SecretsError::Secret(SecretStoreError::Tampered(row.path.clone()))
                    })?;
                    if sealed::rewrap(&mut tx, &row.path, &row.key_id, primary_id, &wrapped).await?
                    {
                        done += 1;
                    }
                }
                tx.commit().await?;
                progress(rows.len());
            }
        }
        Ok(done)
    }

    /// How many stored values are not yet wrapped by the primary key.
    pub async fn count_to_rewrap(&self) -> Result<usize, SecretsError> {
        let ring = self.reload()?;
        let (primary_id, _) = ring.primary();
        let mut n = 0;
        for tenant in store::tenants::all_ids(&self.store).await? {
            let scope = SystemScope::new(tenant, SystemJob::SecretStore);
            let mut tx = self.store.system_read(&scope).await?;
            n += sealed::count_wrapped_by_other_keys(&mut tx, primary_id).await?;
            tx.commit().await?;
        }
        Ok(n)
    }

    /// The ids of the loaded master keys, the primary first.
    pub fn key_ids(&self) -> Vec<String> {
        self.ring().ids()
    }
}

/// The fields as a JSON object, in a buffer wiped on drop. Sized up front so
/// it never reallocates (which would leave copies behind).
fn encode(secret: &Secret) -> Zeroizing<Vec<u8>> {
    let fields: BTreeMap<&str, &str> = secret
        .fields()
        .map(|(k, v)| (k, v.expose_secret()))
        .collect();
    let size: usize = fields
        .iter()
        .map(|(k, v)| 2 * (k.len() + v.len()) + 8)
        .sum();
    let mut out = Zeroizing::new(Vec::with_capacity(size + 2));
    serde_json::to_writer(&mut *out, &fields).expect("a map of strings always serializes");
    out
}

fn decode(plaintext: &[u8]) -> Option<Secret> {
    let fields: BTreeMap<String, String> = serde_json::from_slice(plaintext).ok()?;
    let mut secret = Secret::default();
    for (k, v) in fields {
        secret.insert(&k, SecretString::from(v));
    }
    Some(secret)
}

impl SecretStore for LocalStore {
    fn name(&self) -> &'static str {
        "local"
    }

    fn put<'a>(&'a self, path: &'a SecretPath, secret: &'a Secret) -> SecretFuture<'a, ()> {
        Box::pin(self.put_sealed(path, secret))
    }

    fn get<'a>(&'a self, path: &'a SecretPath) -> SecretFuture<'a, Secret> {
        Box::pin(self.get_sealed(path))
    }

    fn delete<'a>(&'a self, path: &'a SecretPath) -> SecretFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self
                .store
                .system_write(&Self::scope(path))
                .await
                .map_err(unavailable)?;
            sealed::delete(&mut tx, path.as_str())
                .await
                .map_err(unavailable)?;
            tx.commit().await.map_err(unavailable)
        })
    }

    fn check(&self) -> SecretFuture<'_, Vec<String>> {
        Box::pin(async move {
            let ring = self.reload()?;
            let (id, master) = ring.primary();
            let mut checked = vec![format!(
                "master key {id} loaded ({} key(s) in the ring)",
                ring.ids().len()
            )];
            let probe = b"bizosaas doctor probe";
            let s = seal::seal(master, id, "doctor", probe);
            let opened = seal::open(master, id, "doctor", &s.wrapped_key, &s.ciphertext)
                .map_err(|_| SecretStoreError::Other("seal/open round trip failed".into()))?;
            if opened.as_slice() != probe {
                return Err(SecretStoreError::Other(
                    "seal/open round trip differs".into(),
                ));
            }
            checked.push("AES-256-GCM seal and open round trip".into());
            self.store.ping().await.map_err(unavailable)?;
            checked.push("database holding the ciphertext reachable".into());
            Ok(checked)
        })
    }
}
