//! Turning templates and failures into HTML responses.

use crate::nav::{Section, SECTIONS};
use app::profile::Profile;
use app::AppError;
use askama::Template;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use domain::validation::FieldError;

/// What every signed-in page's layout needs.
pub struct Chrome {
    /// Page title.
    pub title: String,
    /// CSRF token for the forms on the page.
    pub csrf: String,
    /// The signed-in user.
    pub user: Option<Profile>,
    /// Key of the active navigation entry.
    pub active: &'static str,
    /// Navigation entries.
    pub sections: &'static [Section],
    /// Where the page sits: (label, link) from the section down; the last
    /// entry is the page itself and has no link.
    pub crumbs: Vec<(String, Option<&'static str>)>,
}

impl Chrome {
    /// Layout data for a page.
    pub fn new(
        title: impl Into<String>,
        csrf: &str,
        user: Option<Profile>,
        active: &'static str,
    ) -> Self {
        let title = title.into();
        let mut crumbs = Vec::new();
        if let Some(section) = SECTIONS.iter().find(|s| s.key == active) {
            if section.label != title {
                crumbs.push((section.label.to_string(), Some(section.href)));
            }
        }
        crumbs.push((title.clone(), None));
        Self {
            crumbs,
            title,
            csrf: csrf.to_string(),
            user,
            active,
            sections: SECTIONS,
        }
    }
}

/// Renders a template with a status.
pub fn page(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => PageError::Internal(format!("template: {e}")).into_response(),
    }
}

/// A failure shown as a page of its own.
#[derive(Clone, Debug)]
pub enum PageError {
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// No such page or resource.
    NotFound,
    /// The caller's role does not allow it; the text names the role.
    Forbidden(String),
    /// A dependency is down or slow.
    Unavailable(String),
    /// Too many requests; retry after the seconds given.
    TooMany(String, u64),
    /// The request was refused as it stands; the text says why.
    Refused(StatusCode, String),
    /// A bug; details go to the log, the page shows the request id.
    Internal(String),
}

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound(_) => PageError::NotFound,
            AppError::Forbidden(d) => PageError::Forbidden(d),
            AppError::Unavailable(d) => PageError::Unavailable(d),
            AppError::TooManyRequests {
                detail,
                retry_after,
            } => PageError::TooMany(detail, retry_after),
            AppError::Conflict(d) => PageError::Refused(StatusCode::CONFLICT, d),
            AppError::Validation { detail, .. } => {
                PageError::Refused(StatusCode::UNPROCESSABLE_ENTITY, detail)
            }
            AppError::MalformedBody(d) => PageError::Refused(StatusCode::BAD_REQUEST, d),
            AppError::Unauthorized(d) => PageError::Refused(StatusCode::UNAUTHORIZED, d),
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl From<store::StoreError> for PageError {
    fn from(e: store::StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = match &self {
            PageError::Csrf | PageError::Forbidden(_) => StatusCode::FORBIDDEN,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::TooMany(..) => StatusCode::TOO_MANY_REQUESTS,
            PageError::Refused(status, _) => *status,
            PageError::Internal(e) => {
                tracing::error!(error = %e, "page failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut res = status.into_response();
        if matches!(self, PageError::TooMany(..) | PageError::Unavailable(_)) {
            if let Ok(v) = HeaderValue::from_str(&retry_after(&self).to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res.extensions_mut().insert(self);
        res
    }
}

fn retry_after(e: &PageError) -> u64 {
    match e {
        PageError::TooMany(_, s) => *s,
        _ => 5,
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    heading: String,
    detail: String,
    request_id: String,
}

/// Middleware: a page that failed gets its error page here, where the
/// request id is known.
pub async fn error_pages(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let res = next.run(req).await;
    let Some(err) = res.extensions().get::<PageError>().cloned() else {
        return res;
    };
    let (heading, detail) = match err {
        PageError::Csrf => (
            "This form has expired".to_string(),
            "Reload the page and submit it again; nothing was changed.".to_string(),
        ),
        PageError::NotFound => (
            "Page not found".into(),
            "There is nothing at this address, or it belongs to another workspace.".into(),
        ),
        PageError::Forbidden(d) => ("You do not have permission".into(), d),
        PageError::Unavailable(d) => ("Temporarily unavailable".into(), d),
        PageError::TooMany(d, s) => ("Too many requests".into(), format!("{d} (retry in {s} s)")),
        PageError::Refused(_, d) => ("That did not work".into(), d),
        PageError::Internal(_) => (
            "Something went wrong on our side".into(),
            "The error has been logged. If it keeps happening, contact support and quote the request id below.".into(),
        ),
    };
    let (mut parts, _) = res.into_parts();
    let body = ErrorPage {
        status: parts.status.as_u16(),
        heading,
        detail,
        request_id,
    }
    .render()
    .unwrap_or_default();
    parts.extensions.remove::<PageError>();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// A refusal a form shows beside its fields: what went wrong, and where.
#[derive(Debug)]
pub struct Refusal {
    /// The HTTP status of the page that shows it.
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// The fields at fault, for validation refusals.
    pub errors: Vec<FieldError>,
}

/// The refusal behind a failed operation, for a form to show inline; a
/// failure no form can show (no permission, rate limited, the server or a
/// dependency failing) comes back as its own page.
pub fn inline_problem(e: AppError) -> Result<Refusal, PageError> {
    let refusal = |status: StatusCode, detail: String| Refusal {
        status: status.as_u16(),
        detail,
        errors: Vec::new(),
    };
    Ok(match e {
        AppError::Validation { detail, errors } => Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY.as_u16(),
            detail,
            errors,
        },
        AppError::MalformedBody(d) => refusal(StatusCode::BAD_REQUEST, d),
        AppError::TooLarge { limit } => refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the form is larger than the {limit} bytes the server accepts"),
        ),
        AppError::Unauthorized(d) => refusal(StatusCode::UNAUTHORIZED, d),
        AppError::NotFound(d) => refusal(StatusCode::NOT_FOUND, d),
        AppError::Conflict(d) => refusal(StatusCode::CONFLICT, d),
        other => return Err(other.into()),
    })
}

/// The HTTP status of a refusal, for the page that shows it.
pub fn status_of(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST)
}
