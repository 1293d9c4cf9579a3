//! References to tenants' LLM provider keys. The keys themselves are in the
//! secret store at `vault_path`; here are only facts safe to show.

use crate::changes::Topic;
use crate::tx::{with_conn, TenantTx};
use crate::{audit, Result};
use chrono::{DateTime, Utc};
use domain::audit::{NewAuditEntry, RequestOrigin};
use domain::{Actor, TenantId, TokenId, UserId};
use serde_json::json;
use uuid::Uuid;

/// A stored key's reference and facts (never the key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRef {
    /// Id.
    pub id: Uuid,
    /// Owner tenant.
    pub tenant_id: TenantId,
    /// Provider: `openai`, `anthropic`, `openrouter`, or an OpenAI-compatible service's name.
    pub service: String,
    /// Where the key is in the secret store.
    pub vault_path: String,
    /// Base URL of an OpenAI-compatible endpoint.
    pub base_url: Option<String>,
    /// The key's last four characters.
    pub key_hint: String,
    /// Who added it: a signed-in user, an API token, or the operator (neither).
    pub added_by: Actor,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it was last checked against the provider.
    pub last_tested_at: Option<DateTime<Utc>>,
    /// Whether that check passed.
    pub last_test_ok: Option<bool>,
    /// The provider's answer to that check.
    pub last_test_detail: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    tenant_id: Uuid,
    service: String,
    vault_path: String,
    base_url: Option<String>,
    key_hint: String,
    added_by_user: Option<Uuid>,
    added_by_token: Option<Uuid>,
    created_at: DateTime<Utc>,
    last_tested_at: Option<DateTime<Utc>>,
    last_test_ok: Option<bool>,
    last_test_detail: Option<String>,
}

impl From<Row> for ApiKeyRef {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            tenant_id: TenantId::from_uuid(r.tenant_id),
            service: r.service,
            vault_path: r.vault_path,
            base_url: r.base_url,
            key_hint: r.key_hint,
            added_by: match (r.added_by_user, r.added_by_token) {
                (Some(u), _) => Actor::User(UserId::from_uuid(u)),
                (None, Some(t)) => Actor::Token(TokenId::from_uuid(t)),
                (None, None) => Actor::System,
            },
            created_at: r.created_at,
            last_tested_at: r.last_tested_at,
            last_test_ok: r.last_test_ok,
            last_test_detail: r.last_test_detail,
        }
    }
}

const COLUMNS: &str =
    "SELECT id, tenant_id, service, vault_path, base_url, key_hint, added_by_user, added_by_token, created_at, \
     last_tested_at, last_test_ok, last_test_detail FROM api_key_refs WHERE tenant_id = $1";

/// A key about to be referenced.
#[derive(Clone, Debug)]
pub struct NewApiKeyRef {
    /// Provider or service name.
    pub service: String,
    /// Where the key is stored.
    pub vault_path: String,
    /// Base URL of an OpenAI-compatible endpoint.
    pub base_url: Option<String>,
    /// The key's last four characters.
    pub key_hint: String,
    /// The result of checking it with the provider, if it was.
    pub tested: Option<(bool, String)>,
    /// Request origin, for the audit log.
    pub origin: RequestOrigin,
}

/// Adds the reference for a service, replacing an earlier key's, and audits it.
pub async fn upsert(tx: &mut TenantTx, new: NewApiKeyRef) -> Result<ApiKeyRef> {
    let replaced = find(tx, &new.service).await?;
    let now = Utc::now();
    let tenant = tx.tenant();
    let (tested_at, ok, detail) = match &new.tested {
        Some((ok, detail)) => (Some(now), Some(*ok), Some(detail.clone())),
        None => (None, None, None),
    };
    let key = ApiKeyRef {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        service: new.service,
        vault_path: new.vault_path,
        base_url: new.base_url,
        key_hint: new.key_hint,
        added_by: tx.actor(),
        created_at: now,
        last_tested_at: tested_at,
        last_test_ok: ok,
        last_test_detail: detail,
    };
    if replaced.is_some() {
        with_conn!(tx, |c| sqlx::query(
            "DELETE FROM api_key_refs WHERE tenant_id = $1 AND service = $2"
        )
        .bind(tenant.as_uuid())
        .bind(&key.service)
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO api_key_refs (id, tenant_id, service, vault_path, base_url, key_hint, added_by_user, \
         added_by_token, created_at, last_tested_at, last_test_ok, last_test_detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    )
    .bind(key.id)
    .bind(tenant.as_uuid())
    .bind(&key.service)
    .bind(&key.vault_path)
    .bind(&key.base_url)
    .bind(&key.key_hint)
    .bind(key.added_by.user_id().map(|u| u.as_uuid()))
    .bind(key.added_by.token_id().map(|t| t.as_uuid()))
    .bind(key.created_at)
    .bind(key.last_tested_at)
    .bind(key.last_test_ok)
    .bind(&key.last_test_detail)
    .execute(c)
    .await
    .map(|_| ())
    })?;
    tx.touch(Topic::Secrets);
    let action = if replaced.is_some() {
        "api_key.replace"
    } else {
        "api_key.create"
    };
    audit::record(
        tx,
        NewAuditEntry::new(action, "api_key", Some(key.service.clone()))
            .with_metadata(
                json!({ "key_hint": key.key_hint, "validated": key.last_test_ok.is_some() }),
            )
            .from_origin(new.origin),
    )
    .await?;
    Ok(key)
}

/// The tenant's keys, by service name.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<ApiKeyRef>> {
    let tenant = tx.tenant().as_uuid();
    let sql = format!("{COLUMNS} ORDER BY service");
    let rows: Vec<Row> = with_conn!(tx, |c| sqlx::query_as(&sql).bind(tenant).fetch_all(c).await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The tenant's key for a service.
pub async fn find(tx: &mut TenantTx, service: &str) -> Result<Option<ApiKeyRef>> {
    let tenant = tx.tenant().as_uuid();
    let sql = format!("{COLUMNS} AND service = $2");
    let row: Option<Row> = with_conn!(tx, |c| sqlx::query_as(&sql)
        .bind(tenant)
        .bind(service)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(Into::into))
}

/// Records the result of checking a key with its provider, and audits it.
pub async fn record_test(
    tx: &mut TenantTx,
    service: &str,
    ok: bool,
    detail: &str,
    origin: RequestOrigin,
) -> Result<Option<ApiKeyRef>> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| {
        sqlx::query(
        "UPDATE api_key_refs SET last_tested_at = $1, last_test_ok = $2, last_test_detail = $3 \
         WHERE tenant_id = $4 AND service = $5"
    )
    .bind(Utc::now())
    .bind(ok)
    .bind(detail)
    .bind(tenant)
    .bind(service)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Ok(None);
    }
    audit::record(
        tx,
        NewAuditEntry::new("api_key.test", "api_key", Some(service.to_string()))
            .with_metadata(json!({ "ok": ok }))
            .from_origin(origin),
    )
    .await?;
    find(tx, service).await
}

/// Removes the reference for a service and audits the revocation; the
/// caller destroys the secret in the same unit of work.
pub async fn delete(
    tx: &mut TenantTx,
    service: &str,
    origin: RequestOrigin,
) -> Result<Option<ApiKeyRef>> {
    let Some(key) = find(tx, service).await? else {
        return Ok(None);
    };
    with_conn!(tx, |c| sqlx::query(
        "DELETE FROM api_key_refs WHERE tenant_id = $1 AND service = $2"
    )
    .bind(key.tenant_id.as_uuid())
    .bind(service)
    .execute(c)
    .await
    .map(|_| ()))?;
    tx.touch(Topic::Secrets);
    audit::record(
        tx,
        NewAuditEntry::new("api_key.revoke", "api_key", Some(service.to_string()))
            .with_metadata(json!({ "key_hint": key.key_hint }))
            .from_origin(origin),
    )
    .await?;
    Ok(Some(key))
}
