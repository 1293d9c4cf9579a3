//! Sortable tables: `?sort=<column>&dir=asc|desc`, headers that toggle the
//! direction and carry `aria-sort`, rendered by `sort_headers.html`. For
//! tables whose rows fit one page (members, tokens); long lists page by
//! cursor in their natural order instead (the audit log).

use serde::Deserialize;
use std::cmp::Ordering;

/// The sort a table was asked for.
#[derive(Deserialize, Default)]
pub struct SortQuery {
    sort: Option<String>,
    dir: Option<String>,
}

/// A sortable column header.
pub struct Column {
    /// The column's key in `?sort=`.
    pub key: &'static str,
    /// Its label.
    pub label: &'static str,
    /// `ascending`, `descending` or `none` (for `aria-sort`).
    pub aria: &'static str,
    /// The link that sorts by this column (toggling the direction).
    pub href: String,
}

/// Sorts `rows` by the requested column (ignoring unknown ones) with
/// `cmp(key, a, b)`, and returns the headers for `base` (the page's path).
pub fn sort<T>(
    rows: &mut [T],
    base: &str,
    columns: &[(&'static str, &'static str)],
    q: &SortQuery,
    cmp: impl Fn(&str, &T, &T) -> Ordering,
) -> Vec<Column> {
    let key = q
        .sort
        .as_deref()
        .and_then(|k| columns.iter().find(|c| c.0 == k))
        .map(|c| c.0);
    let desc = q.dir.as_deref() == Some("desc");
    if let Some(key) = key {
        rows.sort_by(|a, b| {
            let o = cmp(key, a, b);
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    }
    columns
        .iter()
        .map(|&(k, label)| {
            let active = key == Some(k);
            let next = if active && !desc { "desc" } else { "asc" };
            Column {
                key: k,
                label,
                aria: match (active, desc) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
                href: format!("{base}?sort={k}&dir={next}"),
            }
        })
        .collect()
}
