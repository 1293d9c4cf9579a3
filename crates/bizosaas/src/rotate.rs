//! `bizosaas admin rotate-master-key`: a new master key for the local sealed
//! store, every data key re-wrapped under it, the old key retired, while
//! servers keep serving (they read the key file again when they meet a key
//! id they do not hold, and before every write).

use crate::config::Config;
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use secrets::local::keyring::{self, KeySource};
use secrets::local::LocalStore;
use std::time::Duration;
use store::Store;

/// How long servers get to pick up the new key file before the last pass
/// (they reload it before each write, so one write in flight at most).
const GRACE: Duration = Duration::from_secs(2);

/// Rotates the master key of the configured local store.
pub async fn rotate_master_key(config: &Config, store: &Store) -> anyhow::Result<()> {
    let secrets::Backend::Local(source) = config.secrets_backend()? else {
        bail!(
            "secrets.backend is vault: Vault encrypts the keys itself; rotate its keys there \
             (`bao operator rotate`), there is no master key here"
        );
    };
    match &source {
        KeySource::File(path) => {
            let local = LocalStore::open(store.clone(), source.clone())?;
            let old = local.key_ids();
            let new = keyring::add_primary(path)
                .with_context(|| format!("adding a key to {}", path.display()))?;
            println!("new master key {new} (retiring {})", old.join(", "));
            let local = LocalStore::open(store.clone(), source.clone())?;
            let total = rewrap_with_progress(&local, "re-wrapping").await?;
            tokio::time::sleep(GRACE).await;
            // Anything a server sealed with the old key before it saw the new file.
            let late = local.rewrap_all(|_| {}).await?;
            keyring::drop_old_keys(path)?;
            println!(
                "done: {} data key(s) re-wrapped under {new}; {} holds only the new key",
                total + late,
                path.display()
            );
        }
        KeySource::Env(_) => {
            let local = LocalStore::open(store.clone(), source.clone())?;
            let ids = local.key_ids();
            if ids.len() < 2 {
                bail!(
                    "BIZOS_MASTER_KEY holds one key. To rotate: put a new key first and the old \
                     one after it (`NEW,OLD`) on every instance, run this command, then remove OLD"
                );
            }
            let total = rewrap_with_progress(&local, "re-wrapping").await?;
            println!(
                "done: {total} data key(s) re-wrapped under {}; now remove the older key(s) ({}) \
                 from BIZOS_MASTER_KEY on every instance",
                ids[0],
                ids[1..].join(", ")
            );
        }
    }
    Ok(())
}

async fn rewrap_with_progress(local: &LocalStore, label: &str) -> anyhow::Result<usize> {
    let total = local.count_to_rewrap().await?;
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} data keys ({eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    let done = local.rewrap_all(|n| bar.inc(n as u64)).await?;
    bar.finish();
    Ok(done)
}
