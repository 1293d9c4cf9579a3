//! Paging helpers: page numbers carried as cursors, and `Link` headers.

use reqwest::header::{HeaderMap, LINK};

/// The page number a cursor holds (`None`: the first page, 1).
pub fn page_number(cursor: Option<&str>) -> Result<u32, String> {
    match cursor {
        None => Ok(1),
        Some(c) => c
            .parse::<u32>()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| format!("`{c}` is not a page cursor")),
    }
}

/// The URL of the `rel="next"` link, if the answer has one.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| {
            let (url, params) = part.trim().split_once(';')?;
            let is_next = params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            is_next.then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
        })
}

/// A header holding a whole number (`X-WP-TotalPages`).
pub fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_next_link_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static(
                "<https://x.test/a?page=1>; rel=\"prev\", <https://x.test/a?page=3>; rel=\"next\"",
            ),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://x.test/a?page=3"));
    }

    #[test]
    fn no_next_link_on_the_last_page() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static("<https://x.test/a?page=1>; rel=\"prev\""),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn page_cursors_are_positive_numbers() {
        assert_eq!(page_number(None), Ok(1));
        assert_eq!(page_number(Some("4")), Ok(4));
        assert!(page_number(Some("0")).is_err());
        assert!(page_number(Some("x")).is_err());
    }
}
