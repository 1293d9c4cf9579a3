//! Settings → Audit log: the tenant's entries, filtered and paged, with a
//! CSV export of what the filter selects.

use crate::render::{inline_problem, page, Chrome, PageError};
use crate::session::{encode, Csrf, SignedIn};
use app::audit::{self, AuditQuery, ExportFormat};
use app::App;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::validation::FieldError;
use serde::Deserialize;

/// The page's query: the filter and the cursor.
#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    action: String,
    #[serde(default)]
    resource_type: String,
    cursor: Option<String>,
}

impl Filter {
    fn api_query(&self, format: Option<ExportFormat>) -> AuditQuery {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        AuditQuery {
            action: some(&self.action),
            resource_type: some(&self.resource_type),
            since: None,
            until: None,
            limit: Some(50),
            cursor: self.cursor.clone().filter(|c| !c.is_empty()),
            format,
        }
    }

    fn query_string(&self) -> String {
        format!(
            "action={}&resource_type={}",
            encode(self.action.trim()),
            encode(self.resource_type.trim())
        )
    }
}

/// A row as shown.
struct Row {
    when: String,
    action: String,
    resource: String,
    actor: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "settings_audit.html")]
struct AuditLogPage {
    chrome: Chrome,
    tab: &'static str,
    action: String,
    resource_type: String,
    errors: Vec<FieldError>,
    message: Option<String>,
    entries: Vec<Row>,
    next_href: Option<String>,
    export_query: String,
    /// Exports carry every member's email and address: admins only.
    can_export: bool,
}

/// `GET /settings/audit-log`.
pub async fn list(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Query(f): Query<Filter>,
) -> Result<Response, PageError> {
    let mut p = AuditLogPage {
        chrome: Chrome::new("Audit log", &csrf.0, Some(user.profile.clone()), "audit"),
        tab: "audit",
        action: f.action.clone(),
        resource_type: f.resource_type.clone(),
        errors: vec![],
        message: None,
        entries: vec![],
        next_href: None,
        export_query: f.query_string(),
        can_export: user.principal.has_scope(domain::tokens::Scope::Admin),
    };
    let res = audit::page(&state, &user.principal, f.api_query(None)).await;
    let status = match res.and_then(|json| json.decode()) {
        Ok(page_of) => {
            p.entries = page_of
                .items
                .into_iter()
                .map(|e| Row {
                    when: e.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    action: e.action,
                    resource: match e.resource_id {
                        Some(id) => format!("{} {}", e.resource_type, id),
                        None => e.resource_type,
                    },
                    actor: match (e.user_id, e.token_id) {
                        (Some(u), _) => format!("user {u}"),
                        (_, Some(t)) => format!("token {t}"),
                        _ => "operator".into(),
                    },
                    ip: e.ip_address.unwrap_or_default(),
                })
                .collect();
            p.next_href = page_of.next_cursor.map(|c| {
                format!(
                    "/settings/audit-log?{}&cursor={}",
                    f.query_string(),
                    encode(&c)
                )
            });
            StatusCode::OK
        }
        Err(e) => {
            let problem = inline_problem(e)?;
            p.message = problem.errors.is_empty().then_some(problem.detail);
            p.errors = problem.errors;
            crate::render::status_of(problem.status)
        }
    };
    Ok(page(status, &p))
}

/// `GET /settings/audit-log/export`: the API's CSV export of the filter.
pub async fn export(
    State(state): State<App>,
    user: SignedIn,
    Query(f): Query<Filter>,
) -> Result<Response, PageError> {
    let mut q = f.api_query(Some(ExportFormat::Csv));
    q.cursor = None;
    q.limit = None;
    let export = audit::export(&state, &user.principal, q, ExportFormat::Csv).await?;
    let disposition = format!("attachment; filename=\"{}\"", export.file_name);
    Ok((
        [
            (CONTENT_TYPE, export.media_type.to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        export.body,
    )
        .into_response())
}
