//! Every way a use case can fail; each edge maps it to its own form once
//! (problem+json in the API, an error page or inline message in the portal).

use domain::validation::FieldError;
use domain::workflows::EngineError;
use store::StoreError;

/// Every way an operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is not what the operation accepts.
    #[error("{detail}")]
    Validation {
        /// Summary.
        detail: String,
        /// Per-field errors.
        errors: Vec<FieldError>,
    },
    /// The body is not parseable at all.
    #[error("{0}")]
    MalformedBody(String),
    /// The body is too large.
    #[error("request body too large")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// No valid credential.
    #[error("{0}")]
    Unauthorized(String),
    /// A credential without the needed scope or role.
    #[error("{0}")]
    Forbidden(String),
    /// Not found (also for other tenants' resources, so nothing leaks).
    #[error("{0}")]
    NotFound(String),
    /// Conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// A dependency is down; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// Too many attempts; retry after the given seconds.
    #[error("{detail}")]
    TooManyRequests {
        /// What was limited.
        detail: String,
        /// Seconds until a retry can succeed.
        retry_after: u64,
    },
    /// A bug or unexpected failure; details are logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A validation error on one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        AppError::Validation {
            detail: format!("`{field}`: {message}"),
            errors: vec![FieldError::new(field, message)],
        }
    }

    /// All the field errors found at once, or `Ok` when there are none.
    pub fn collect(errors: Vec<FieldError>) -> Result<(), AppError> {
        if errors.is_empty() {
            return Ok(());
        }
        let detail = errors
            .iter()
            .map(|e| format!("`{}`: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        Err(AppError::Validation { detail, errors })
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => {
                AppError::Unavailable("database unavailable; try again shortly".into())
            }
            StoreError::NotFound => AppError::NotFound("no such resource".into()),
            StoreError::Conflict(c) => {
                AppError::Conflict(format!("conflicts with an existing record ({c})"))
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unavailable(m) => AppError::Unavailable(format!(
                "the workflow engine is unreachable ({m}); nothing was started or changed, try again shortly"
            )),
            EngineError::NotFound => AppError::NotFound("no such workflow run".into()),
            EngineError::Conflict(m) => AppError::Conflict(m),
            EngineError::Invalid(m) => AppError::Validation {
                detail: m.clone(),
                errors: vec![],
            },
            EngineError::Other(m) => AppError::Internal(m),
        }
    }
}
