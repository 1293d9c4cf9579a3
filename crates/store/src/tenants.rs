//! The tenant registry.

use crate::connect::{Pool, Store};
use crate::tx::{set_local, with_conn, TenantTx, Tx};
use crate::{audit, Result, StoreError};
use chrono::{DateTime, Utc};
use domain::audit::NewAuditEntry;
use domain::validation::{slugify, DisplayName};
use domain::{Scoped, SystemJob, SystemScope, TenantId};
use uuid::Uuid;

/// A tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// Unique handle derived from the name.
    pub slug: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last renamed.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    slug: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Tenant {
    fn from(r: Row) -> Self {
        Tenant {
            id: TenantId::from_uuid(r.id),
            name: r.name,
            slug: r.slug,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Creates a tenant from the operator command line, audited as its first entry.
pub async fn create(store: &Store, name: &DisplayName) -> Result<Tenant> {
    let tenant = Tenant::named(name)?;
    let mut tx = store
        .system_write(&SystemScope::new(tenant.id, SystemJob::Operator))
        .await?;
    insert(&mut tx, &tenant).await?;
    tx.commit().await?;
    Ok(tenant)
}

impl Tenant {
    /// A new tenant with the slug derived from its name.
    pub fn named(name: &DisplayName) -> Result<Self> {
        let slug = slugify(name.as_str());
        if slug.is_empty() {
            return Err(StoreError::Config(
                "a tenant name needs at least one ASCII letter or digit".into(),
            ));
        }
        let now = Utc::now();
        Ok(Tenant {
            id: TenantId::new(),
            name: name.as_str().to_string(),
            slug,
            created_at: now,
            updated_at: now,
        })
    }
}

/// Inserts a tenant in a transaction scoped to it, with its audit entry:
/// the operator's, or the one that makes a registering user its owner.
pub async fn insert<S: Scoped>(tx: &mut Tx<S>, tenant: &Tenant) -> Result<()> {
    with_conn!(tx, |c| sqlx::query(
        "INSERT INTO tenants (id, name, slug, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(tenant.id.as_uuid())
    .bind(&tenant.name)
    .bind(&tenant.slug)
    .bind(tenant.created_at)
    .bind(tenant.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    audit::record(
        tx,
        NewAuditEntry::new("tenant.create", "tenant", Some(tenant.id.to_string()))
            .with_metadata(serde_json::json!({ "name": tenant.name, "slug": tenant.slug })),
    )
    .await?;
    Ok(())
}

/// Finds a tenant by its slug or id, as an operator names it on the command line.
pub async fn find(store: &Store, key: &str) -> Result<Option<Tenant>> {
    let id = Uuid::parse_str(key).ok();
    const SQL: &str =
        "SELECT id, name, slug, created_at, updated_at FROM tenants WHERE slug = $1 OR id = $2";
    let row: Option<Row> = match &store.pool {
        Pool::Sqlite(p) => {
            sqlx::query_as(SQL)
                .bind(key)
                .bind(id)
                .fetch_optional(p)
                .await?
        }
        Pool::Postgres(p) => {
            let mut tx = p.begin().await?;
            set_local(&mut tx, "app.tenant_slug", key).await?;
            if let Some(id) = id {
                set_local(&mut tx, "app.tenant_id", &id.to_string()).await?;
            }
            let row = sqlx::query_as(SQL)
                .bind(key)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            row
        }
    };
    Ok(row.map(Into::into))
}

/// The transaction's own tenant.
pub async fn current(tx: &mut TenantTx) -> Result<Tenant> {
    let id = tx.tenant().as_uuid();
    let row: Row = with_conn!(tx, |c| sqlx::query_as(
        "SELECT id, name, slug, created_at, updated_at FROM tenants WHERE id = $1"
    )
    .bind(id)
    .fetch_one(c)
    .await)?;
    Ok(row.into())
}

/// Renames the transaction's tenant; the slug stays, so links keep working.
pub async fn rename(tx: &mut TenantTx, name: &DisplayName) -> Result<Tenant> {
    let id = tx.tenant().as_uuid();
    let now = Utc::now();
    let row: Row = with_conn!(tx, |c| {
        sqlx::query_as(
        "UPDATE tenants SET name = $1, updated_at = $2 WHERE id = $3 RETURNING id, name, slug, created_at, updated_at"
    )
    .bind(name.as_str())
    .bind(now)
    .bind(id)
    .fetch_one(c)
    .await
    })?;
    Ok(row.into())
}

/// Every tenant's id, for maintenance that visits each tenant in turn (the
/// master-key rotation). On PostgreSQL this is the one listing the tenants'
/// policies allow, and only when the caller declares that maintenance.
pub async fn all_ids(store: &Store) -> Result<Vec<TenantId>> {
    const SQL: &str = "SELECT id FROM tenants ORDER BY id";
    let ids: Vec<Uuid> = match &store.pool {
        Pool::Sqlite(p) => sqlx::query_scalar(SQL).fetch_all(p).await?,
        Pool::Postgres(p) => {
            let mut tx = p.begin().await?;
            set_local(&mut tx, "app.maintenance", "list_tenants").await?;
            let ids = sqlx::query_scalar(SQL).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            ids
        }
    };
    Ok(ids.into_iter().map(TenantId::from_uuid).collect())
}
