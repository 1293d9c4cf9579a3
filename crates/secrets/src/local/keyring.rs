//! The master keys of the local sealed store: a 0600 file in the data dir
//! (created on first start) or `BIZOS_MASTER_KEY`. One key per line (base64);
//! the first seals new values, the others still open older ones until a
//! rotation has re-wrapped everything.

use super::seal::KeyBytes;
use crate::SecretsError;
use aes_gcm::aead::{KeyInit, OsRng};
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Where the master keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A key file, created with a fresh key if missing.
    File(PathBuf),
    /// Base64 keys separated by commas (the first seals), from the environment.
    Env(secrecy::SecretString),
}

/// Loaded master keys.
pub struct Keyring {
    /// (id, key), the primary first.
    keys: Vec<(String, KeyBytes)>,
}

/// A key's public name: a hash of it, so rows can say which key wrapped them.
pub fn key_id(key: &[u8; 32]) -> String {
    let digest = Sha256::new()
        .chain_update(b"bizosaas master key id\0")
        .chain_update(key)
        .finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl Keyring {
    /// Loads the keys, creating the key file on first start.
    pub fn load(source: &KeySource) -> Result<Self, SecretsError> {
        use secrecy::ExposeSecret;
        match source {
            KeySource::Env(text) => Self::parse(text.expose_secret(), "BIZOS_MASTER_KEY"),
            KeySource::File(path) => {
                if !path.exists() {
                    let key: KeyBytes = Zeroizing::new(Aes256Gcm::generate_key(OsRng).into());
                    if create_key_file(path, &[key])? {
                        tracing::info!(path = %path.display(), "created the master key of the local secret store");
                    }
                }
                check_permissions(path)?;
                let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                    SecretsError::Config(format!(
                        "cannot read master key file {}: {e}",
                        path.display()
                    ))
                })?);
                Self::parse(&text, &path.display().to_string())
            }
        }
    }

    fn parse(text: &str, origin: &str) -> Result<Self, SecretsError> {
        let mut keys = Vec::new();
        for (n, line) in text
            .split(['\n', ','])
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .enumerate()
        {
            let raw = Zeroizing::new(B64.decode(line).map_err(|_| {
                SecretsError::Config(format!("{origin}: key {} is not base64", n + 1))
            })?);
            let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
                SecretsError::Config(format!(
                    "{origin}: key {} is {} bytes; a master key is 32 random bytes (base64)",
                    n + 1,
                    raw.len()
                ))
            })?;
            let key = Zeroizing::new(bytes);
            keys.push((key_id(&key), key));
        }
        if keys.is_empty() {
            return Err(SecretsError::Config(format!(
                "{origin} holds no master key"
            )));
        }
        Ok(Self { keys })
    }

    /// The key that seals new values, and its id.
    pub fn primary(&self) -> (&str, &KeyBytes) {
        let (id, key) = &self.keys[0];
        (id, key)
    }

    /// A key by its id.
    pub fn get(&self, id: &str) -> Option<&KeyBytes> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }

    /// Ids of every key, the primary first.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|(id, _)| id.clone()).collect()
    }

    fn keys(&self) -> Vec<KeyBytes> {
        self.keys.iter().map(|(_, k)| k.clone()).collect()
    }
}

/// Puts a fresh key first in the key file, keeping the others to open older
/// values; returns the new key's id.
pub fn add_primary(path: &Path) -> Result<String, SecretsError> {
    let ring = Keyring::load(&KeySource::File(path.to_path_buf()))?;
    let key: KeyBytes = Zeroizing::new(Aes256Gcm::generate_key(OsRng).into());
    let id = key_id(&key);
    let mut keys = vec![key];
    keys.extend(ring.keys());
    write_key_file(path, &keys)?;
    Ok(id)
}

/// Keeps only the primary key in the key file (after every value was re-wrapped).
pub fn drop_old_keys(path: &Path) -> Result<(), SecretsError> {
    let ring = Keyring::load(&KeySource::File(path.to_path_buf()))?;
    write_key_file(path, &ring.keys()[..1])
}

/// Writes the keys to a new 0600 file beside `path` and renames it over, so
/// a reader sees the old file or the new one, never half of one.
fn write_key_file(path: &Path, keys: &[KeyBytes]) -> Result<(), SecretsError> {
    let tmp = write_beside(path, keys)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        key_file_error(path, e)
    })
}

/// Makes the key file on first start unless another process (a `serve` and
/// a `worker` starting together) made it first, whose key then stands:
/// two keys racing to be the one would leave values sealed with the loser
/// unreadable. Returns whether this call made it.
fn create_key_file(path: &Path, keys: &[KeyBytes]) -> Result<bool, SecretsError> {
    let tmp = write_beside(path, keys)?;
    // A hard link never replaces an existing file: exactly one wins.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(key_file_error(path, e)),
    }
}

fn key_file_error(path: &Path, e: std::io::Error) -> SecretsError {
    SecretsError::Config(format!(
        "cannot write master key file {}: {e}",
        path.display()
    ))
}

/// The keys in a new 0600 file of a name of its own beside `path`.
fn write_beside(path: &Path, keys: &[KeyBytes]) -> Result<PathBuf, SecretsError> {
    let io = |e| key_file_error(path, e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension(format!(
        "key.new.{}.{}",
        std::process::id(),
        aes_gcm::aead::rand_core::RngCore::next_u32(&mut OsRng)
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(&tmp).map_err(io)?;
    let mut text = Zeroizing::new(String::from(
        "# BizOSaaS master keys (local sealed secret store). Keep this file secret and backed up:\n# without it the stored secrets cannot be read. The first key seals new values.\n",
    ));
    for key in keys {
        text.push_str(&B64.encode(key.as_slice()));
        text.push('\n');
    }
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(tmp)
}

fn check_permissions(path: &Path) -> Result<(), SecretsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| SecretsError::Config(format!("cannot read {}: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(SecretsError::Config(format!(
                "master key file {} is open to other users (mode {:o}); run `chmod 600` on it",
                path.display(),
                mode & 0o777
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_starting_together_on_a_fresh_data_dir_agree_on_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("master.key");
            let ids: Vec<String> = std::thread::scope(|s| {
                let racers: Vec<_> = (0..4)
                    .map(|_| {
                        let path = path.clone();
                        s.spawn(move || {
                            Keyring::load(&KeySource::File(path))
                                .unwrap()
                                .primary()
                                .0
                                .to_string()
                        })
                    })
                    .collect();
                racers.into_iter().map(|r| r.join().unwrap()).collect()
            });
            assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
            let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert_eq!(left.len(), 1, "no temporary file is left behind");
        }
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let first = Keyring::load(&KeySource::File(path.clone())).unwrap();
        let again = Keyring::load(&KeySource::File(path.clone())).unwrap();
        assert_eq!(first.primary().0, again.primary().0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        Keyring::load(&KeySource::File(path.clone())).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = Keyring::load(&KeySource::File(path.clone())).err().unwrap();
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
    }

    #[test]
    fn a_short_or_garbled_environment_key_is_refused_with_a_reason() {
        let short = KeySource::Env(B64.encode([1u8; 16]).into());
        assert!(Keyring::load(&short)
            .err()
            .unwrap()
            .to_string()
            .contains("16 bytes"));
        let garbled = KeySource::Env("not base64!".to_string().into());
        assert!(Keyring::load(&garbled)
            .err()
            .unwrap()
            .to_string()
            .contains("not base64"));
    }
}
