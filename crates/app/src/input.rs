//! Parsing of the small inputs every capability takes: ids and paging.

use crate::AppError;
use domain::paging::{Cursor, Limit};
use serde::{Deserialize, Serialize};

/// Parses an id, naming the parameter when it is not a UUID.
pub fn parse_id<T: std::str::FromStr>(raw: &str, name: &str) -> Result<T, AppError> {
    raw.parse()
        .map_err(|_| AppError::field(name, format!("`{raw}` is not a valid UUID")))
}

/// Validates `limit` and `cursor` of a list request, naming the bad one.
pub fn paging(
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<(Limit, Option<Cursor>), AppError> {
    let limit = Limit::parse(limit).map_err(|m| AppError::field("limit", m))?;
    let cursor = cursor
        .map(Cursor::decode)
        .transpose()
        .map_err(|m| AppError::field("cursor", m))?;
    Ok((limit, cursor))
}

/// Paging parameters of a list.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// The first page, as large as a page may be (for pages of the portal
    /// that show a short list whole).
    pub fn largest() -> Self {
        Self {
            limit: Some(domain::paging::MAX_LIMIT),
            cursor: None,
        }
    }
}
