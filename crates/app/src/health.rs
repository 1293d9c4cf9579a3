//! Readiness: whether this instance can serve.

use crate::App;

/// Why the instance cannot serve yet, for a person.
pub async fn readiness(state: &App) -> Result<&'static str, String> {
    if let Err(e) = state.store.ping().await {
        return Err(format!(
            "database ({}) unreachable: {e}",
            state.store.backend().name()
        ));
    }
    match state.store.migration_status().await {
        Ok(s) if s.pending.is_empty() => Ok(state.store.backend().name()),
        Ok(s) => Err(format!(
            "database migrations not applied: {}",
            s.pending.join(", ")
        )),
        Err(e) => Err(format!("could not read migration state: {e}")),
    }
}
