//! The plan's pages whose capability has not landed yet, each with its
//! honest empty state.

use crate::nav::{self, Page};
use crate::render::{page, Chrome, PageError};
use crate::session::{Csrf, SignedIn};
use askama::Template;
use axum::http::{StatusCode, Uri};
use axum::response::Response;

#[derive(Template)]
#[template(path = "pending.html")]
struct PendingPage {
    chrome: Chrome,
    section_label: &'static str,
    pages: &'static [Page],
    here: &'static str,
    heading: &'static str,
    holds: &'static str,
    next_step: &'static str,
    next_href: &'static str,
}

/// A page not built yet: what it will hold, and the first step towards it.
pub async fn pending(uri: Uri, user: SignedIn, csrf: Csrf) -> Result<Response, PageError> {
    let (section, here) = nav::page_at(uri.path()).ok_or(PageError::NotFound)?;
    let p = here.pending.as_ref().ok_or(PageError::NotFound)?;
    Ok(page(
        StatusCode::OK,
        &PendingPage {
            chrome: Chrome::new(here.label, &csrf.0, Some(user.profile), section.key),
            section_label: section.label,
            pages: section.pages,
            here: here.href,
            heading: here.label,
            holds: p.holds,
            next_step: p.next_step,
            next_href: p.next_href,
        },
    ))
}
