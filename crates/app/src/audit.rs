//! The tenant's audit log: listing with filters and paging, and export.

use crate::{access, App, AppError};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::audit::{AuditEntry, AuditFilter};
use domain::paging::{Cursor, Limit, MAX_LIMIT};
use domain::tokens::Scope;
use domain::Principal;
use domain::TenantScope;
use serde::{Deserialize, Serialize};
use store::audit;
use store::changes::Topic;

/// Filters and paging of the audit log.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this action, e.g. `api_token.create`.
    pub action: Option<String>,
    /// Only this resource type, e.g. `api_token`.
    pub resource_type: Option<String>,
    /// Entries at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1 to 200 (default 50). Ignored by exports.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `json` (default, paged), or `csv` / `jsonl` for a full export.
    pub format: Option<ExportFormat>,
}

/// Output format.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// A page of JSON.
    Json,
    /// Every matching entry as CSV.
    Csv,
    /// Every matching entry as JSON lines.
    Jsonl,
}

/// A page of audit entries.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Entries, newest first.
    pub items: Vec<AuditEntry>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

const MAX_FILTER_LEN: usize = 100;

/// A page of the log as JSON (an [`AuditPage`]), kept ready to send.
#[derive(Clone, Debug)]
pub struct PageJson(pub Bytes);

impl PageJson {
    /// The page itself.
    pub fn decode(&self) -> Result<AuditPage, AppError> {
        serde_json::from_slice(&self.0).map_err(|e| AppError::Internal(e.to_string()))
    }
}

/// A whole export, ready to download.
#[derive(Debug)]
pub struct Export {
    /// The file.
    pub body: Vec<u8>,
    /// Its media type.
    pub media_type: &'static str,
    /// A name to save it under.
    pub file_name: String,
}

/// The checked filter, limit and cursor of a query.
fn checked(q: AuditQuery) -> Result<(AuditFilter, Limit, Option<Cursor>), AppError> {
    for (field, v) in [("action", &q.action), ("resource_type", &q.resource_type)] {
        if v.as_ref()
            .is_some_and(|v| v.is_empty() || v.len() > MAX_FILTER_LEN)
        {
            return Err(AppError::field(
                field,
                format!("must be 1 to {MAX_FILTER_LEN} characters"),
            ));
        }
    }
    if let (Some(s), Some(u)) = (q.since, q.until) {
        if s >= u {
            return Err(AppError::field("until", "must be later than `since`"));
        }
    }
    let (limit, cursor) = crate::input::paging(q.limit, q.cursor.as_deref())?;
    let filter = AuditFilter {
        action: q.action,
        resource_type: q.resource_type,
        since: q.since,
        until: q.until,
    };
    Ok((filter, limit, cursor))
}

/// A page of the tenant's audit entries, newest first (any member).
pub async fn page(state: &App, who: &Principal, q: AuditQuery) -> Result<PageJson, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let (filter, limit, cursor) = checked(q)?;
    cached_page(state, &scope, &filter, cursor, limit)
        .await
        .map(PageJson)
}

/// Every entry the filter selects, as CSV or JSON lines. Admins only: an
/// export carries every member's email and address at once, which is more
/// than a member needs to see what happened in the workspace.
pub async fn export(
    state: &App,
    who: &Principal,
    q: AuditQuery,
    format: ExportFormat,
) -> Result<Export, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let (filter, _, cursor) = checked(q)?;
    let mut tx = state.store.read(&scope).await?;
    if let Some(c) = cursor {
        check_cursor(&mut tx, c).await?;
    }
    // Exports read every matching entry in one snapshot, a page at a time.
    let big = Limit::parse(Some(MAX_LIMIT)).expect("MAX_LIMIT is valid");
    let mut entries = Vec::new();
    let mut next = cursor;
    loop {
        let page = audit::list(&mut tx, &filter, next, big).await?;
        entries.extend(page.items);
        match page.next_cursor {
            Some(c) => next = Some(Cursor::decode(&c).map_err(AppError::Internal)?),
            None => break,
        }
    }
    tx.commit().await?;
    let (body, media_type, ext) = match format {
        ExportFormat::Csv => (to_csv(&entries)?, "text/csv; charset=utf-8", "csv"),
        _ => (to_jsonl(&entries)?, "application/jsonl", "jsonl"),
    };
    Ok(Export {
        body,
        media_type,
        file_name: format!("audit-log.{ext}"),
    })
}

/// One page as JSON, from the page cache while the tenant's log is unchanged
/// (the log only grows, so a page goes stale only when an entry is added).
async fn cached_page(
    state: &App,
    scope: &TenantScope,
    filter: &AuditFilter,
    cursor: Option<Cursor>,
    limit: Limit,
) -> Result<Bytes, AppError> {
    let (tenant, topic) = (scope.tenant(), Topic::AuditLog);
    let changes = state.store.changes();
    let key = format!(
        "{:?}|{:?}|{:?}|{:?}|{}|{:?}",
        filter.action,
        filter.resource_type,
        filter.since,
        filter.until,
        limit.get(),
        cursor.map(|c| c.id())
    );
    if let Some(body) = state.pages.get(tenant, topic, &key, changes) {
        state.metrics.cache_lookup("audit_pages", "hit");
        return Ok(body);
    }
    // Taken before reading, so a write committed meanwhile makes this page stale.
    let stamp = changes.stamp(tenant, topic);
    let outcome = if stamp.is_some() { "miss" } else { "bypass" };
    state.metrics.cache_lookup("audit_pages", outcome);
    let mut tx = state.store.read(scope).await?;
    if let Some(c) = cursor {
        check_cursor(&mut tx, c).await?;
    }
    let page = audit::list(&mut tx, filter, cursor, limit).await?;
    tx.commit().await?;
    let body = serde_json::to_vec(&AuditPage {
        items: page.items,
        next_cursor: page.next_cursor,
    })
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let body = Bytes::from(body);
    if let Some(stamp) = stamp {
        state.pages.put(tenant, topic, key, stamp, body.clone());
    }
    Ok(body)
}

async fn check_cursor(tx: &mut store::TenantTx, c: Cursor) -> Result<(), AppError> {
    if audit::exists(tx, c.id()).await? {
        Ok(())
    } else {
        Err(AppError::field(
            "cursor",
            "does not point into this audit log",
        ))
    }
}

fn to_jsonl(entries: &[AuditEntry]) -> Result<Vec<u8>, AppError> {
    let mut out = Vec::new();
    for e in entries {
        serde_json::to_writer(&mut out, e).map_err(|e| AppError::Internal(e.to_string()))?;
        out.push(b'\n');
    }
    Ok(out)
}

fn to_csv(entries: &[AuditEntry]) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| AppError::Internal(e.to_string());
    w.write_record([
        "id",
        "created_at",
        "action",
        "resource_type",
        "resource_id",
        "user_id",
        "token_id",
        "ip_address",
        "user_agent",
        "metadata",
    ])
    .map_err(err)?;
    for e in entries {
        w.write_record([
            e.id.to_string(),
            e.created_at.to_rfc3339(),
            csv_safe(&e.action),
            csv_safe(&e.resource_type),
            csv_safe(e.resource_id.as_deref().unwrap_or("")),
            e.user_id.map(|u| u.to_string()).unwrap_or_default(),
            e.token_id.map(|t| t.to_string()).unwrap_or_default(),
            e.ip_address.clone().unwrap_or_default(),
            csv_safe(e.user_agent.as_deref().unwrap_or("")),
            csv_safe(e.metadata.get()),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// Neutralises spreadsheet formula injection in user-controlled cells.
fn csv_safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}
