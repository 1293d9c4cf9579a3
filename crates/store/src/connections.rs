//! A tenant's connections to connectors (the `connector_configs` table):
//! where its credentials are in the secret store, its non-secret settings,
//! whether it works, and how its syncs went.

use crate::tx::{with_conn, TenantTx, Tx};
use crate::{Result, StoreError};
use chrono::{DateTime, Utc};
use domain::{Scoped, TenantId};
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

/// Whether a connection works.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Its credentials were accepted.
    Connected,
    /// The provider refused its credentials: a member must connect it again.
    NeedsReconnect,
}

impl ConnectionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::NeedsReconnect => "needs_reconnect",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "needs_reconnect" => Self::NeedsReconnect,
            _ => Self::Connected,
        }
    }
}

/// A connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    /// Id.
    pub id: Uuid,
    /// Owner tenant.
    pub tenant_id: TenantId,
    /// The connector (`wordpress`).
    pub connector: String,
    /// Where its secret fields are in the secret store.
    pub vault_path: String,
    /// Its non-secret fields.
    pub settings: Map<String, Value>,
    /// Whether it works.
    pub status: ConnectionStatus,
    /// The last error a call or sync met, if the last one failed.
    pub last_error: Option<String>,
    /// When a sync last finished.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// How the last sync ended (`running`, `succeeded`, `failed`).
    pub sync_status: Option<String>,
    /// Minutes between scheduled incremental syncs (`None`: not scheduled).
    pub sync_interval_minutes: Option<i32>,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Connection {
    /// A connection made now, connected, never synced, not scheduled.
    pub fn new(
        id: Uuid,
        tenant_id: TenantId,
        connector: &str,
        vault_path: &str,
        settings: Map<String, Value>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            tenant_id,
            connector: connector.into(),
            vault_path: vault_path.into(),
            settings,
            status: ConnectionStatus::Connected,
            last_error: None,
            last_sync_at: None,
            sync_status: None,
            sync_interval_minutes: None,
            created_at: at,
            updated_at: at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    tenant_id: Uuid,
    connector_id: String,
    vault_path: String,
    settings: Json<Map<String, Value>>,
    status: String,
    last_error: Option<String>,
    last_sync_at: Option<DateTime<Utc>>,
    sync_status: Option<String>,
    sync_interval_minutes: Option<i32>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Connection {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            tenant_id: TenantId::from_uuid(r.tenant_id),
            connector: r.connector_id,
            vault_path: r.vault_path,
            settings: r.settings.0,
            status: ConnectionStatus::parse(&r.status),
            last_error: r.last_error,
            last_sync_at: r.last_sync_at,
            sync_status: r.sync_status,
            sync_interval_minutes: r.sync_interval_minutes,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT id, tenant_id, connector_id, vault_path, settings, status, last_error, \
             last_sync_at, sync_status, sync_interval_minutes, created_at, updated_at \
             FROM connector_configs ",
            $tail
        )
    };
}

/// Stores a new connection; a connector the tenant already connected is a
/// conflict.
pub async fn insert(tx: &mut TenantTx, c: &Connection) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |conn| {
        sqlx::query(
        "INSERT INTO connector_configs (id, tenant_id, connector_id, vault_path, settings, status, \
         is_active, sync_interval_minutes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, true, $7, $8, $9)"
    )
    .bind(c.id)
    .bind(tenant)
    .bind(&c.connector)
    .bind(&c.vault_path)
    .bind(Json(&c.settings))
    .bind(c.status.as_str())
    .bind(c.sync_interval_minutes)
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(conn)
    .await
    .map(drop)
    })?;
    Ok(())
}

/// Saves new settings for a connection made again, and marks it connected.
pub async fn reconnect(
    tx: &mut TenantTx,
    id: Uuid,
    settings: &Map<String, Value>,
    at: DateTime<Utc>,
) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| sqlx::query(
        "UPDATE connector_configs SET settings = $1, status = 'connected', last_error = NULL, \
         updated_at = $2 WHERE tenant_id = $3 AND id = $4"
    )
    .bind(Json(settings))
    .bind(at)
    .bind(tenant)
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    found(n)
}

/// The tenant's connections, in the order they were made.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<Connection>> {
    let tenant = tx.tenant().as_uuid();
    let rows: Vec<Row> = with_conn!(tx, |c| sqlx::query_as(select!(
        "WHERE tenant_id = $1 ORDER BY created_at, id"
    ))
    .bind(tenant)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(Connection::from).collect())
}

/// The tenant's connection of a connector, if it made one.
pub async fn of_connector(tx: &mut TenantTx, connector: &str) -> Result<Option<Connection>> {
    let tenant = tx.tenant().as_uuid();
    let row: Option<Row> = with_conn!(tx, |c| sqlx::query_as(select!(
        "WHERE tenant_id = $1 AND connector_id = $2"
    ))
    .bind(tenant)
    .bind(connector)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(Connection::from))
}

/// One connection, for a member or a sync run of its tenant.
pub async fn get<S: Scoped>(tx: &mut Tx<S>, id: Uuid) -> Result<Connection> {
    let tenant = tx.tenant().as_uuid();
    let row: Row = with_conn!(tx, |c| sqlx::query_as(select!(
        "WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_one(c)
    .await)?;
    Ok(row.into())
}

/// Deletes a connection and, with it, its synced records.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    // Its records first: SQLite cascades only with foreign keys on, and the
    // order makes the intent plain on both.
    with_conn!(tx, |c| sqlx::query(
        "DELETE FROM connector_records WHERE tenant_id = $1 AND connection_id = $2"
    )
    .bind(tenant)
    .bind(id)
    .execute(c)
    .await
    .map(drop))?;
    let n = with_conn!(tx, |c| sqlx::query(
        "DELETE FROM connector_configs WHERE tenant_id = $1 AND id = $2"
    )
    .bind(tenant)
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    found(n)
}

/// Records that the provider refused the connection's credentials (or, with
/// `Connected`, that they work again), with the error if any.
pub async fn set_status<S: Scoped>(
    tx: &mut Tx<S>,
    id: Uuid,
    status: ConnectionStatus,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| sqlx::query(
        "UPDATE connector_configs SET status = $1, last_error = $2, updated_at = $3 \
         WHERE tenant_id = $4 AND id = $5"
    )
    .bind(status.as_str())
    .bind(error)
    .bind(at)
    .bind(tenant)
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    found(n)
}

/// Records how a sync went: `running` when it starts; `succeeded` (which
/// sets the last sync time and clears the error) or `failed` with its error.
pub async fn record_sync<S: Scoped>(
    tx: &mut Tx<S>,
    id: Uuid,
    outcome: &str,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| sqlx::query(
        "UPDATE connector_configs SET sync_status = $1, last_error = $2, \
         last_sync_at = CASE WHEN $1 = 'succeeded' THEN $3 ELSE last_sync_at END, updated_at = $3 \
         WHERE tenant_id = $4 AND id = $5"
    )
    .bind(outcome)
    .bind(error)
    .bind(at)
    .bind(tenant)
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    found(n)
}

/// Sets the minutes between scheduled syncs (`None`: none).
pub async fn set_interval(
    tx: &mut TenantTx,
    id: Uuid,
    minutes: Option<i32>,
    at: DateTime<Utc>,
) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| sqlx::query(
        "UPDATE connector_configs SET sync_interval_minutes = $1, updated_at = $2 \
         WHERE tenant_id = $3 AND id = $4"
    )
    .bind(minutes)
    .bind(at)
    .bind(tenant)
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    found(n)
}

fn found(n: u64) -> Result<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
