//! API tokens: only their hash is stored.

use crate::connect::Store;
use crate::tx::{fetch_by_hash, with_conn, TenantTx};
use crate::{audit, Result};
use chrono::{DateTime, Utc};
use domain::audit::{NewAuditEntry, RequestOrigin};
use domain::paging::{Cursor, Limit, Page};
use domain::tokens::{self, join_scopes, parse_scopes, GeneratedToken, Scope, TokenKind};
use domain::validation::DisplayName;
use domain::{TenantId, TokenId, UserId};
use uuid::Uuid;

/// A stored token (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    /// Id.
    pub id: TokenId,
    /// Owner tenant.
    pub tenant_id: TenantId,
    /// Label given by its creator.
    pub name: String,
    /// Public leading characters, to recognise it.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Tenant or personal.
    pub kind: TokenKind,
    /// The user who made it, if a user did (for a personal token: whose it is).
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last time it authenticated a request (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    prefix: String,
    scopes: String,
    kind: String,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<Row> for ApiToken {
    fn from(r: Row) -> Self {
        ApiToken {
            id: TokenId::from_uuid(r.id),
            tenant_id: TenantId::from_uuid(r.tenant_id),
            name: r.name,
            prefix: r.prefix,
            // Written only by `create`, from parsed scopes.
            scopes: parse_scopes(&r.scopes).unwrap_or_default(),
            kind: TokenKind::from_stored(&r.kind),
            created_by: r.created_by.map(UserId::from_uuid),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A SELECT of every stored column but the hash, followed by `$tail`.
macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT id, tenant_id, name, prefix, scopes, kind, created_by, created_at, last_used_at, revoked_at FROM api_tokens ",
            $tail
        )
    };
}

/// Issues a tenant token for the transaction's tenant: generates its secret,
/// stores only the hash, and audits it in the same transaction. The caller
/// shows the returned secret once.
pub async fn issue(
    tx: &mut TenantTx,
    name: &DisplayName,
    scopes: &[Scope],
    origin: RequestOrigin,
) -> Result<(ApiToken, GeneratedToken)> {
    issue_kind(tx, TokenKind::Tenant, name, scopes, origin).await
}

/// Issues a token of either kind; a personal token belongs to the
/// transaction's acting user, so the scope must name one.
pub async fn issue_kind(
    tx: &mut TenantTx,
    kind: TokenKind,
    name: &DisplayName,
    scopes: &[Scope],
    origin: RequestOrigin,
) -> Result<(ApiToken, GeneratedToken)> {
    if kind == TokenKind::Personal && tx.actor().user_id().is_none() {
        return Err(crate::StoreError::Conflict(
            "a personal token needs a signed-in user to belong to".into(),
        ));
    }
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let secret = tokens::generate();
    let token = insert(tx, kind, name.as_str(), &scopes, &secret).await?;
    audit::record(
        tx,
        NewAuditEntry::new("api_token.create", "api_token", Some(token.id.to_string()))
            .with_metadata(serde_json::json!({ "name": token.name, "kind": kind, "scopes": token.scopes, "prefix": token.prefix }))
            .from_origin(origin),
    )
    .await?;
    Ok((token, secret))
}

async fn insert(
    tx: &mut TenantTx,
    kind: TokenKind,
    name: &str,
    scopes: &[Scope],
    secret: &GeneratedToken,
) -> Result<ApiToken> {
    let scope = *tx.scope();
    let token = ApiToken {
        id: TokenId::new(),
        tenant_id: scope.tenant(),
        name: name.to_string(),
        prefix: secret.prefix.clone(),
        scopes: scopes.to_vec(),
        kind,
        created_by: scope.actor().user_id(),
        created_at: Utc::now(),
        last_used_at: None,
        revoked_at: None,
    };
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO api_tokens (id, tenant_id, name, prefix, secret_hash, scopes, kind, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )
    .bind(token.id.as_uuid())
    .bind(token.tenant_id.as_uuid())
    .bind(&token.name)
    .bind(&token.prefix)
    .bind(&secret.hash)
    .bind(join_scopes(scopes))
    .bind(kind.as_str())
    .bind(token.created_by.map(|u| u.as_uuid()))
    .bind(token.created_at)
    .execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(token)
}

/// The tenant's tokens, newest first.
pub async fn list(
    tx: &mut TenantTx,
    cursor: Option<Cursor>,
    limit: Limit,
) -> Result<Page<ApiToken>> {
    let tenant = tx.tenant().as_uuid();
    let after = cursor.map(Cursor::id).unwrap_or(Uuid::max());
    let fetch = i64::from(limit.get()) + 1;
    let sql = select!("WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3");
    let rows: Vec<Row> = with_conn!(tx, |c| sqlx::query_as(sql)
        .bind(tenant)
        .bind(after)
        .bind(fetch)
        .fetch_all(c)
        .await)?;
    Ok(Page::from_overfetch(
        rows.into_iter().map(ApiToken::from).collect(),
        limit,
        |t| t.id.as_uuid(),
    ))
}

/// The acting user's personal tokens, newest first.
pub async fn list_personal(
    tx: &mut TenantTx,
    user: UserId,
    cursor: Option<Cursor>,
    limit: Limit,
) -> Result<Page<ApiToken>> {
    let tenant = tx.tenant().as_uuid();
    let after = cursor.map(Cursor::id).unwrap_or(Uuid::max());
    let fetch = i64::from(limit.get()) + 1;
    let sql = select!(
        "WHERE tenant_id = $1 AND kind = 'personal' AND created_by = $2 AND id < $3 ORDER BY id DESC LIMIT $4"
    );
    let rows: Vec<Row> = with_conn!(tx, |c| sqlx::query_as(sql)
        .bind(tenant)
        .bind(user.as_uuid())
        .bind(after)
        .bind(fetch)
        .fetch_all(c)
        .await)?;
    Ok(Page::from_overfetch(
        rows.into_iter().map(ApiToken::from).collect(),
        limit,
        |t| t.id.as_uuid(),
    ))
}

/// One of the tenant's tokens.
pub async fn get(tx: &mut TenantTx, id: TokenId) -> Result<ApiToken> {
    let tenant = tx.tenant().as_uuid();
    let sql = select!("WHERE tenant_id = $1 AND id = $2");
    let row: Row = with_conn!(tx, |c| sqlx::query_as(sql)
        .bind(tenant)
        .bind(id.as_uuid())
        .fetch_one(c)
        .await)?;
    Ok(row.into())
}

/// Revokes a token; revoking twice keeps the first time.
pub async fn revoke(tx: &mut TenantTx, id: TokenId) -> Result<ApiToken> {
    let tenant = tx.tenant().as_uuid();
    let now = Utc::now();
    with_conn!(tx, |c| {
        sqlx::query(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE tenant_id = $2 AND id = $3"
    )
    .bind(now)
    .bind(tenant)
    .bind(id.as_uuid())
    .execute(c).await.map(|r| r.rows_affected())
    })?;
    get(tx, id).await
}

/// How many of the tenant's tokens are not revoked.
pub async fn count_active(tx: &mut TenantTx) -> Result<i64> {
    let tenant = tx.tenant().as_uuid();
    let (n,): (i64,) = with_conn!(tx, |c| sqlx::query_as(
        "SELECT COUNT(*) FROM api_tokens WHERE tenant_id = $1 AND revoked_at IS NULL"
    )
    .bind(tenant)
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// Records that a token was used now.
pub async fn touch(tx: &mut TenantTx, id: TokenId) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| sqlx::query(
        "UPDATE api_tokens SET last_used_at = $1 WHERE tenant_id = $2 AND id = $3"
    )
    .bind(Utc::now())
    .bind(tenant)
    .bind(id.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Finds a token by the hash of what a caller presented, before any tenant
/// is known. On PostgreSQL this is the one keyed lookup RLS allows.
pub async fn find_by_hash(store: &Store, hash: &str) -> Result<Option<ApiToken>> {
    let row: Option<Row> = fetch_by_hash(store, select!("WHERE secret_hash = $1"), hash).await?;
    Ok(row.map(Into::into))
}
