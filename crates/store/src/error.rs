//! The one error type of the store.

/// What can go wrong talking to the database, classified for callers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (down, pool exhausted, connection lost).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was broken; the payload names the constraint.
    #[error("conflicts with an existing record ({0})")]
    Conflict(String),
    /// The record does not exist (or belongs to another tenant).
    #[error("not found")]
    NotFound,
    /// A value the caller gave is unusable (a cursor from elsewhere).
    #[error("{0}")]
    Invalid(String),
    /// Configuration is wrong (bad URL, unsupported backend).
    #[error("database configuration: {0}")]
    Config(String),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Any other database error; internal detail, never shown to clients.
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(ref db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or("unique").to_string())
            }
            // PostgreSQL: admin shutdown, cannot connect now, too many connections.
            sqlx::Error::Database(ref db)
                if matches!(
                    db.code().as_deref(),
                    Some("57P01" | "57P02" | "57P03" | "53300")
                ) =>
            {
                StoreError::Unavailable(db.message().to_string())
            }
            other => StoreError::Database(other),
        }
    }
}
