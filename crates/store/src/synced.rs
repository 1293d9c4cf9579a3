//! The local copy of connector records: upserted by a sync, read by the
//! data tabs with search, filters, sort and cursor paging.

use crate::tx::{with_conn, TenantTx, Tx, TxInner};
use crate::{Result, StoreError};
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::Scoped;
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

/// A record as the provider has it, to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRecord {
    /// The provider's id.
    pub external_id: String,
    /// Its title or name.
    pub title: String,
    /// The provider's status.
    pub status: Option<String>,
    /// The typed fields the tabs show.
    pub fields: Map<String, Value>,
    /// The provider's JSON.
    pub raw: Value,
    /// When it last changed at the provider.
    pub remote_updated_at: Option<DateTime<Utc>>,
}

/// A stored record.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SyncedRecord {
    /// The resource (`posts`).
    pub resource: String,
    /// The provider's id.
    pub external_id: String,
    /// Its title or name.
    pub title: String,
    /// The provider's status.
    pub status: Option<String>,
    /// The typed fields.
    pub fields: Map<String, Value>,
    /// The provider's JSON (`null` in listings, which show the typed
    /// fields: a provider's record can be large).
    pub raw: Value,
    /// When it last changed at the provider.
    pub remote_updated_at: Option<DateTime<Utc>>,
    /// When it was last synced or written through.
    pub synced_at: DateTime<Utc>,
    /// Deleted at the provider (a tombstone).
    pub deleted: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    resource: String,
    external_id: String,
    title: String,
    status: Option<String>,
    fields: Json<Map<String, Value>>,
    raw: Option<Json<Value>>,
    remote_updated_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    synced_at: DateTime<Utc>,
    deleted: bool,
}

impl From<Row> for SyncedRecord {
    fn from(r: Row) -> Self {
        Self {
            resource: r.resource,
            external_id: r.external_id,
            title: r.title,
            status: r.status,
            fields: r.fields.0,
            raw: r.raw.map_or(Value::Null, |j| j.0),
            remote_updated_at: r.remote_updated_at,
            synced_at: r.synced_at,
            deleted: r.deleted,
        }
    }
}

/// A listing's columns: a record without its provider JSON.
const LISTED: &str =
    "resource, external_id, title, status, fields, NULL AS raw, remote_updated_at, \
    updated_at, synced_at, deleted";

const COLUMNS: &str = "resource, external_id, title, status, fields, raw, remote_updated_at, \
    updated_at, synced_at, deleted";

/// Rows per statement: 14 parameters each stay far below every backend's
/// limit on bound parameters.
const ROWS_PER_UPSERT: usize = 200;

/// What lists search in: the title and the fields' text, lower-cased.
fn search_text(r: &NewRecord) -> String {
    let mut s = r.title.to_lowercase();
    for v in r.fields.values() {
        if let Value::String(t) = v {
            s.push(' ');
            s.push_str(&t.to_lowercase());
        }
    }
    s
}

/// What a row takes from one seen again: everything the provider says, and
/// it is no tombstone.
const ON_CONFLICT: &str =
    " ON CONFLICT (tenant_id, connection_id, resource, external_id) DO UPDATE SET \
     title = excluded.title, status = excluded.status, search = excluded.search, \
     fields = excluded.fields, raw = excluded.raw, \
     remote_updated_at = excluded.remote_updated_at, updated_at = excluded.updated_at, \
     synced_at = excluded.synced_at, deleted = false, \
     seen_pass = COALESCE(excluded.seen_pass, connector_records.seen_pass)";

/// Stores records of a connection's resource, replacing what was stored
/// under the same external ids (a record seen again is no tombstone). With
/// `pass`, marks them seen by that full sync. Returns how many were written.
pub async fn upsert<S: Scoped>(
    tx: &mut Tx<S>,
    connection: Uuid,
    resource: &str,
    records: &[NewRecord],
    pass: Option<Uuid>,
    synced_at: DateTime<Utc>,
) -> Result<u64> {
    // One statement may not touch a row twice (PostgreSQL refuses): an id
    // listed twice in a page keeps its last version.
    let mut seen = std::collections::HashSet::new();
    let mut unique: Vec<&NewRecord> = records
        .iter()
        .rev()
        .filter(|r| seen.insert(r.external_id.as_str()))
        .collect();
    unique.reverse();
    let tenant = tx.tenant().as_uuid();
    if !tx.is_sqlite() {
        return upsert_unnest(tx, tenant, connection, resource, &unique, pass, synced_at).await;
    }
    let mut written = 0;
    for rows in unique.chunks(ROWS_PER_UPSERT) {
        written += with_conn!(tx, |c| {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO connector_records (tenant_id, connection_id, resource, external_id, \
                 title, status, search, fields, raw, remote_updated_at, updated_at, synced_at, \
                 deleted, seen_pass) ",
            );
            q.push_values(rows, |mut b, r| {
                b.push_bind(tenant)
                    .push_bind(connection)
                    .push_bind(resource.to_string())
                    .push_bind(r.external_id.clone())
                    .push_bind(r.title.clone())
                    .push_bind(r.status.clone())
                    .push_bind(search_text(r))
                    .push_bind(Json(r.fields.clone()))
                    .push_bind(Json(r.raw.clone()))
                    .push_bind(r.remote_updated_at)
                    .push_bind(r.remote_updated_at.unwrap_or(synced_at))
                    .push_bind(synced_at)
                    .push_bind(false)
                    .push_bind(pass);
            });
            q.push(ON_CONFLICT);
            q.build().execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(written)
}

/// PostgreSQL: the whole page as arrays in one statement of fixed text
/// (prepared once per connection), rather than a statement with fourteen
/// parameters per row, which PostgreSQL parses and plans anew per size.
async fn upsert_unnest<S: Scoped>(
    tx: &mut Tx<S>,
    tenant: Uuid,
    connection: Uuid,
    resource: &str,
    rows: &[&NewRecord],
    pass: Option<Uuid>,
    synced_at: DateTime<Utc>,
) -> Result<u64> {
    let ids: Vec<&str> = rows.iter().map(|r| r.external_id.as_str()).collect();
    let titles: Vec<&str> = rows.iter().map(|r| r.title.as_str()).collect();
    let statuses: Vec<Option<&str>> = rows.iter().map(|r| r.status.as_deref()).collect();
    let searches: Vec<String> = rows.iter().map(|r| search_text(r)).collect();
    let fields: Vec<String> = rows
        .iter()
        .map(|r| Value::Object(r.fields.clone()).to_string())
        .collect();
    let raws: Vec<String> = rows.iter().map(|r| r.raw.to_string()).collect();
    let remote: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.remote_updated_at).collect();
    let updated: Vec<DateTime<Utc>> = rows
        .iter()
        .map(|r| r.remote_updated_at.unwrap_or(synced_at))
        .collect();
    let sql = format!(
        "INSERT INTO connector_records (tenant_id, connection_id, resource, external_id, \
         title, status, search, fields, raw, remote_updated_at, updated_at, synced_at, \
         deleted, seen_pass) \
         SELECT $1, $2, $3, e, t, s, se, f::jsonb, r::jsonb, ru, u, $4, false, $5 \
         FROM unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
         $12::timestamptz[], $13::timestamptz[]) AS x(e, t, s, se, f, r, ru, u){ON_CONFLICT}"
    );
    let c: &mut sqlx::PgConnection = match &mut tx.inner {
        TxInner::Postgres(t) | TxInner::PostgresRead(t) => t,
        _ => {
            return Err(StoreError::Config(
                "an array upsert needs PostgreSQL".into(),
            ))
        }
    };
    Ok(sqlx::query(&sql)
        .bind(tenant)
        .bind(connection)
        .bind(resource)
        .bind(synced_at)
        .bind(pass)
        .bind(&ids)
        .bind(&titles)
        .bind(&statuses)
        .bind(&searches)
        .bind(&fields)
        .bind(&raws)
        .bind(&remote)
        .bind(&updated)
        .execute(c)
        .await
        .map(|r| r.rows_affected())?)
}

/// After a full sync pass: marks the resource's records that the pass did
/// not see as deleted at the provider. Returns how many became tombstones.
pub async fn bury_unseen<S: Scoped>(
    tx: &mut Tx<S>,
    connection: Uuid,
    resource: &str,
    pass: Uuid,
    at: DateTime<Utc>,
) -> Result<u64> {
    let tenant = tx.tenant().as_uuid();
    Ok(with_conn!(tx, |c| sqlx::query(
        "UPDATE connector_records SET deleted = true, synced_at = $1 \
         WHERE tenant_id = $2 AND connection_id = $3 AND resource = $4 AND deleted = false \
         AND (seen_pass IS NULL OR seen_pass <> $5)"
    )
    .bind(at)
    .bind(tenant)
    .bind(connection)
    .bind(resource)
    .bind(pass)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// Marks one record deleted (it was deleted through the platform).
pub async fn bury(
    tx: &mut TenantTx,
    connection: Uuid,
    resource: &str,
    external_id: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| sqlx::query(
        "UPDATE connector_records SET deleted = true, synced_at = $1 \
         WHERE tenant_id = $2 AND connection_id = $3 AND resource = $4 AND external_id = $5"
    )
    .bind(at)
    .bind(tenant)
    .bind(connection)
    .bind(resource)
    .bind(external_id)
    .execute(c)
    .await
    .map(drop))?;
    Ok(())
}

/// The provider time of the newest record stored for a resource: where an
/// incremental sync starts.
pub async fn high_water<S: Scoped>(
    tx: &mut Tx<S>,
    connection: Uuid,
    resource: &str,
) -> Result<Option<DateTime<Utc>>> {
    let tenant = tx.tenant().as_uuid();
    let (t,): (Option<DateTime<Utc>>,) = with_conn!(tx, |c| sqlx::query_as(
        "SELECT MAX(remote_updated_at) FROM connector_records \
         WHERE tenant_id = $1 AND connection_id = $2 AND resource = $3"
    )
    .bind(tenant)
    .bind(connection)
    .bind(resource)
    .fetch_one(c)
    .await)?;
    Ok(t)
}

/// One stored record.
pub async fn get(
    tx: &mut TenantTx,
    connection: Uuid,
    resource: &str,
    external_id: &str,
) -> Result<SyncedRecord> {
    let tenant = tx.tenant().as_uuid();
    let sql = format!(
        "SELECT {COLUMNS} FROM connector_records WHERE tenant_id = $1 AND connection_id = $2 \
         AND resource = $3 AND external_id = $4"
    );
    let row: Row = with_conn!(tx, |c| sqlx::query_as(&sql)
        .bind(tenant)
        .bind(connection)
        .bind(resource)
        .bind(external_id)
        .fetch_one(c)
        .await)?;
    Ok(row.into())
}

/// The order of a listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// Most recently changed first.
    #[default]
    NewestFirst,
    /// Least recently changed first.
    OldestFirst,
    /// By title, A to Z.
    TitleAsc,
    /// By title, Z to A.
    TitleDesc,
}

impl Sort {
    /// From the API's `sort` parameter (`-updated_at`, `updated_at`, `title`, `-title`).
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s {
            "-updated_at" => Ok(Self::NewestFirst),
            "updated_at" => Ok(Self::OldestFirst),
            "title" => Ok(Self::TitleAsc),
            "-title" => Ok(Self::TitleDesc),
            other => Err(format!(
                "sort `{other}` is not one of updated_at, -updated_at, title, -title"
            )),
        }
    }

    fn column(self) -> &'static str {
        match self {
            Self::NewestFirst | Self::OldestFirst => "updated_at",
            Self::TitleAsc | Self::TitleDesc => "title",
        }
    }

    fn descending(self) -> bool {
        matches!(self, Self::NewestFirst | Self::TitleDesc)
    }
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Words every listed record's title or fields contain.
    pub search: Option<String>,
    /// Only records with this provider status.
    pub status: Option<String>,
    /// Tombstones instead of live records.
    pub deleted: bool,
    /// Order.
    pub sort: Sort,
    /// From a previous page's `next`.
    pub cursor: Option<String>,
    /// Records per page (1 to 200).
    pub limit: u32,
}

/// A page of stored records.
#[derive(Debug)]
pub struct RecordPage {
    /// The records.
    pub items: Vec<SyncedRecord>,
    /// Where the next page starts.
    pub next: Option<String>,
}

/// The position after a record in an order: its sort key and external id.
#[derive(serde::Serialize, serde::Deserialize)]
struct Position {
    k: String,
    id: String,
}

fn encode(sort: Sort, r: &SyncedRecord, updated_at: DateTime<Utc>) -> String {
    let k = match sort.column() {
        "title" => r.title.clone(),
        _ => updated_at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    };
    let json = serde_json::to_vec(&Position {
        k,
        id: r.external_id.clone(),
    })
    .expect("a position serialises");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode(cursor: &str) -> Result<Position> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| StoreError::Invalid("the cursor is not one this listing gave".into()))
}

/// Lists a resource's stored records of a connection.
pub async fn list(
    tx: &mut TenantTx,
    connection: Uuid,
    resource: &str,
    q: &Query,
) -> Result<RecordPage> {
    let tenant = tx.tenant().as_uuid();
    let after = q.cursor.as_deref().map(decode).transpose()?;
    let col = q.sort.column();
    let (cmp, dir) = if q.sort.descending() {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let mut sql = format!(
        "SELECT {LISTED} FROM connector_records WHERE tenant_id = $1 AND connection_id = $2 \
         AND resource = $3 AND deleted = $4"
    );
    let mut n = 4;
    let mut next = || {
        n += 1;
        n
    };
    let words: Vec<String> = q
        .search
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(|w| format!("%{}%", escape_like(&w.to_lowercase())))
        .collect();
    for _ in &words {
        sql.push_str(&format!(" AND search LIKE ${} ESCAPE '\\'", next()));
    }
    if q.status.is_some() {
        sql.push_str(&format!(" AND status = ${}", next()));
    }
    if after.is_some() {
        let (a, b) = (next(), next());
        sql.push_str(&format!(" AND ({col}, external_id) {cmp} (${a}, ${b})"));
    }
    sql.push_str(&format!(
        " ORDER BY {col} {dir}, external_id {dir} LIMIT ${}",
        next()
    ));
    let limit = q.limit.clamp(1, 200);
    let after_time = match (&after, col) {
        (Some(p), "updated_at") => Some(
            DateTime::parse_from_rfc3339(&p.k)
                .map_err(|_| StoreError::Invalid("the cursor is not one this listing gave".into()))?
                .with_timezone(&Utc),
        ),
        _ => None,
    };
    let rows: Vec<Row> = with_conn!(tx, |c| {
        let mut query = sqlx::query_as(&sql)
            .bind(tenant)
            .bind(connection)
            .bind(resource)
            .bind(q.deleted);
        for w in &words {
            query = query.bind(w);
        }
        if let Some(s) = &q.status {
            query = query.bind(s);
        }
        if let Some(p) = &after {
            query = match after_time {
                Some(t) => query.bind(t),
                None => query.bind(&p.k),
            };
            query = query.bind(&p.id);
        }
        query.bind(i64::from(limit) + 1).fetch_all(c).await
    })?;
    let more = rows.len() > limit as usize;
    let mut items = Vec::with_capacity(limit as usize);
    let mut last_time = None;
    for row in rows.into_iter().take(limit as usize) {
        last_time = Some(row.updated_at);
        items.push(SyncedRecord::from(row));
    }
    let next = match (more, items.last(), last_time) {
        (true, Some(r), Some(t)) => Some(encode(q.sort, r, t)),
        _ => None,
    };
    Ok(RecordPage { items, next })
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Live records per connection and resource, for the tenant's dashboard.
pub async fn counts(tx: &mut TenantTx) -> Result<Vec<(Uuid, String, i64)>> {
    let tenant = tx.tenant().as_uuid();
    Ok(with_conn!(tx, |c| sqlx::query_as(
        "SELECT connection_id, resource, COUNT(*) FROM connector_records \
         WHERE tenant_id = $1 AND deleted = false GROUP BY connection_id, resource \
         ORDER BY connection_id, resource"
    )
    .bind(tenant)
    .fetch_all(c)
    .await)?)
}
