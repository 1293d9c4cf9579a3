//! Exports a tenant's audit log to a JSON Lines file in the data directory,
//! page by page: each page is its own activity writing its own part file
//! (rewritten whole on a retry), and a last activity joins the parts.

use crate::{
    activity_def, workflow_def, ActivityCtx, ActivityOptions, Registry, WorkflowCtx, WorkflowError,
};
use domain::audit::{AuditFilter, NewAuditEntry};
use domain::paging::{Cursor, Limit};
use domain::workflows::{ActivityError, Progress};
use domain::SystemScope;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;
use store::{audit, StoreError};

/// Workflow type of the export.
pub const EXPORT: &str = "audit_log.export";

/// Input of the export.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportInput {
    /// Entries per page (1 to 200, default 200).
    #[serde(default)]
    pub page_size: Option<u32>,
    /// A pause between pages, in milliseconds, to spare a busy database
    /// (at most 10 000).
    #[serde(default)]
    pub pace_ms: Option<u64>,
}

/// The finished export.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportReport {
    /// The file, relative to the data directory.
    pub file: String,
    /// Entries written.
    pub entries: u64,
    /// Pages read.
    pub pages: u32,
}

#[derive(Serialize, Deserialize)]
struct PageInput {
    page: u32,
    cursor: Option<String>,
    page_size: u32,
    pace_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct PageOutput {
    entries: u64,
    next_cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct FinishInput {
    pages: u32,
    entries: u64,
}

/// Pages through the log newest first; entries written after the export
/// began are newer than its first page, so the file is a consistent cut.
pub async fn export<C: WorkflowCtx>(
    ctx: &C,
    input: ExportInput,
) -> Result<ExportReport, WorkflowError> {
    if ctx.tenant().is_none() {
        return Err(WorkflowError::Failed(
            "an audit log export belongs to a tenant".into(),
        ));
    }
    let page_size = input.page_size.unwrap_or(200);
    Limit::parse(Some(page_size)).map_err(WorkflowError::BadInput)?;
    let pace_ms = input.pace_ms.unwrap_or(0);
    if pace_ms > 10_000 {
        return Err(WorkflowError::BadInput(
            "pace_ms must be at most 10000".into(),
        ));
    }
    let opts = ActivityOptions::default();
    let (mut page, mut entries, mut cursor) = (0u32, 0u64, None);
    loop {
        let out: PageOutput = ctx
            .activity(
                "audit_log.export_page",
                &PageInput {
                    page,
                    cursor,
                    page_size,
                    pace_ms,
                },
                &opts,
            )
            .await?;
        entries += out.entries;
        page += 1;
        ctx.progress(Progress {
            done: entries,
            total: None,
            note: Some(format!("{entries} entries exported")),
        })
        .await?;
        match out.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // Joining the parts is short: a local activity on Temporal. Pages stay
    // regular activities, heartbeated, since a pace can make them long.
    ctx.activity(
        "audit_log.export_finish",
        &FinishInput {
            pages: page,
            entries,
        },
        &opts.clone().local(),
    )
    .await
}

fn failure(e: impl std::fmt::Display) -> ActivityError {
    ActivityError::retryable(e.to_string())
}

fn store_failure(e: StoreError) -> ActivityError {
    match e {
        StoreError::Unavailable(m) => {
            ActivityError::retryable(format!("database unavailable: {m}"))
        }
        other => ActivityError::retryable(other.to_string()),
    }
}

fn scope(ctx: &ActivityCtx) -> Result<SystemScope, ActivityError> {
    ctx.tenant_scope()
        .ok_or_else(|| ActivityError::non_retryable("an audit log export belongs to a tenant"))
}

/// `exports/{tenant}`, relative to the data directory.
fn export_dir(scope: &SystemScope) -> PathBuf {
    Path::new("exports").join(scope.tenant().to_string())
}

fn parts_dir(ctx: &ActivityCtx, scope: &SystemScope) -> PathBuf {
    ctx.env
        .data_dir
        .join(export_dir(scope))
        .join(format!("{}.parts", ctx.run_id))
}

/// Writes `bytes` to `path` whole or not at all, readable by this user
/// only: an export holds every member's email and address.
async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ActivityError> {
    let tmp = path.with_extension("tmp");
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut file = opts.open(&tmp).await.map_err(failure)?;
    tokio::io::AsyncWriteExt::write_all(&mut file, bytes)
        .await
        .map_err(failure)?;
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(failure)?;
    tokio::fs::rename(&tmp, path).await.map_err(failure)
}

async fn export_page(ctx: ActivityCtx, input: PageInput) -> Result<PageOutput, ActivityError> {
    let scope = scope(&ctx)?;
    if input.pace_ms > 0 {
        tokio::time::sleep(Duration::from_millis(input.pace_ms)).await;
    }
    let cursor = input
        .cursor
        .as_deref()
        .map(Cursor::decode)
        .transpose()
        .map_err(ActivityError::non_retryable)?;
    let limit = Limit::parse(Some(input.page_size)).map_err(ActivityError::non_retryable)?;
    let mut tx = ctx
        .env
        .store
        .system_read(&scope)
        .await
        .map_err(store_failure)?;
    let page = audit::list(&mut tx, &AuditFilter::default(), cursor, limit)
        .await
        .map_err(store_failure)?;
    tx.commit().await.map_err(store_failure)?;
    let mut lines = Vec::new();
    for entry in &page.items {
        serde_json::to_writer(&mut lines, entry).map_err(failure)?;
        lines.push(b'\n');
    }
    let dir = parts_dir(&ctx, &scope);
    tokio::fs::create_dir_all(&dir).await.map_err(failure)?;
    write_atomically(&dir.join(format!("{:06}.jsonl", input.page)), &lines).await?;
    Ok(PageOutput {
        entries: page.items.len() as u64,
        next_cursor: page.next_cursor,
    })
}

async fn export_finish(
    ctx: ActivityCtx,
    input: FinishInput,
) -> Result<ExportReport, ActivityError> {
    let scope = scope(&ctx)?;
    let relative = export_dir(&scope).join(format!("audit-log-{}.jsonl", ctx.run_id));
    let target = ctx.env.data_dir.join(&relative);
    let parts = parts_dir(&ctx, &scope);
    // A retry after the parts were joined and removed finds the file there.
    if tokio::fs::try_exists(&parts).await.map_err(failure)? {
        let mut all = Vec::new();
        for page in 0..input.pages {
            let part = parts.join(format!("{page:06}.jsonl"));
            all.extend(tokio::fs::read(&part).await.map_err(|e| {
                failure(format!(
                    "part {} of the export is missing: {e}",
                    part.display()
                ))
            })?);
        }
        write_atomically(&target, &all).await?;
        tokio::fs::remove_dir_all(&parts).await.map_err(failure)?;
    } else if !tokio::fs::try_exists(&target).await.map_err(failure)? {
        return Err(ActivityError::non_retryable(
            "the export's pages are gone; retry the export from the start",
        ));
    }
    let file = relative.to_string_lossy().into_owned();
    let run = ctx.run_id.to_string();
    let mut tx = ctx
        .env
        .store
        .system_write(&scope)
        .await
        .map_err(store_failure)?;
    if !audit::records(&mut tx, "audit_log.exported", &run)
        .await
        .map_err(store_failure)?
    {
        let entry = NewAuditEntry::new("audit_log.exported", "workflow_run", Some(run))
            .with_metadata(json!({ "file": file, "entries": input.entries }));
        audit::record(&mut tx, entry).await.map_err(store_failure)?;
    }
    tx.commit().await.map_err(store_failure)?;
    Ok(ExportReport {
        file,
        entries: input.entries,
        pages: input.pages,
    })
}

/// Registers the export workflow and its activities.
pub fn register(r: &mut Registry) {
    r.workflow(workflow_def!(
        EXPORT,
        export,
        input = ExportInput,
        tenant_startable = true
    ));
    r.activity(activity_def!("audit_log.export_page", export_page));
    r.activity(activity_def!("audit_log.export_finish", export_finish));
}
