//! Cursor paging shared by every list endpoint.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use uuid::Uuid;

/// Default page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 200;

/// A validated page size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    /// Accepts 1..=MAX_LIMIT; `None` means the default.
    pub fn parse(raw: Option<u32>) -> Result<Self, String> {
        match raw {
            None => Ok(Self(DEFAULT_LIMIT)),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(Self(n)),
            Some(n) => Err(format!("limit must be between 1 and {MAX_LIMIT}, got {n}")),
        }
    }
    /// The page size.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// An opaque position in a listing: the id of the last item of the previous
/// page. Ids are UUIDv7, so keyset paging by id is paging by time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor(Uuid);

const CURSOR_VERSION: u8 = 1;

impl Cursor {
    /// The cursor that follows the item with this id.
    pub fn after(id: Uuid) -> Self {
        Self(id)
    }
    /// The id the next page starts after.
    pub fn id(self) -> Uuid {
        self.0
    }
    /// The string handed to clients.
    pub fn encode(self) -> String {
        let mut bytes = Vec::with_capacity(17);
        bytes.push(CURSOR_VERSION);
        bytes.extend_from_slice(self.0.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }
    /// Reads a cursor a client sent back; anything else is rejected.
    pub fn decode(s: &str) -> Result<Self, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "cursor is not one this API issued".to_string())?;
        match bytes.split_first() {
            Some((&CURSOR_VERSION, rest)) if rest.len() == 16 => {
                Ok(Self(Uuid::from_slice(rest).expect("16 bytes")))
            }
            _ => Err("cursor is not one this API issued".to_string()),
        }
    }
}

/// One page of a listing.
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only tells
    /// whether another page exists.
    pub fn from_overfetch(mut rows: Vec<T>, limit: Limit, id_of: impl Fn(&T) -> Uuid) -> Self {
        let more = rows.len() > limit.get() as usize;
        rows.truncate(limit.get() as usize);
        let next_cursor = if more {
            rows.last().map(|r| Cursor::after(id_of(r)).encode())
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_the_round_trip() {
        let id = Uuid::now_v7();
        assert_eq!(
            Cursor::decode(&Cursor::after(id).encode()).unwrap().id(),
            id
        );
    }

    #[test]
    fn a_forged_cursor_is_rejected() {
        assert!(Cursor::decode("not-a-cursor").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode([9u8; 17])).is_err());
    }

    #[test]
    fn limits_outside_the_range_are_rejected() {
        assert!(Limit::parse(Some(0)).is_err());
        assert!(Limit::parse(Some(MAX_LIMIT + 1)).is_err());
        assert_eq!(Limit::parse(None).unwrap().get(), DEFAULT_LIMIT);
    }

    #[test]
    fn overfetching_one_row_yields_a_next_cursor() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let page = Page::from_overfetch(ids.clone(), Limit::parse(Some(2)).unwrap(), |u| *u);
        assert_eq!(page.items.len(), 2);
        assert_eq!(
            Cursor::decode(page.next_cursor.as_deref().unwrap())
                .unwrap()
                .id(),
            ids[1]
        );
        let last = Page::from_overfetch(ids, Limit::parse(Some(3)).unwrap(), |u| *u);
        assert!(last.next_cursor.is_none());
    }
}
