//! The tenant's audit log: listing with filters and paging, and export.

use crate::auth::Auth;
use crate::extract::ApiQuery;
use crate::problem::{ApiError, Problem};
use app::audit::{self, AuditPage, AuditQuery, ExportFormat};
use app::App;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

/// Lists or exports the tenant's audit entries, newest first. Exports
/// (`format=csv` or `jsonl`) need the admin role.
#[utoipa::path(get, path = "/api/v1/audit-logs", tag = "audit", security(("bearer" = [])), params(AuditQuery), responses(
    (status = 200, description = "A page (format=json), or the export as text/csv or application/jsonl", content(
        (AuditPage = "application/json"),
        (String = "text/csv"),
        (String = "application/jsonl"),
    )),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "An export without the admin role", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(state): State<App>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    match q.format.unwrap_or(ExportFormat::Json) {
        ExportFormat::Json => {
            let page = audit::page(&state, &who, q).await?;
            Ok(([(CONTENT_TYPE, "application/json")], page.0).into_response())
        }
        format => {
            let export = audit::export(&state, &who, q, format).await?;
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
    }
}
