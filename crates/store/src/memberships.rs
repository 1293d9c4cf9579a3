//! Who belongs to a tenant, with which role.

use crate::connect::{Pool, Store};
use crate::tx::{set_local, with_conn, TenantTx, Tx};
use crate::Result;
use chrono::{DateTime, Utc};
use domain::paging::{Cursor, Limit, Page};
use domain::roles::Role;
use domain::{Scoped, TenantId, UserId};
use uuid::Uuid;

/// A member of the tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Their role here.
    pub role: Role,
    /// Joined.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    user_id: Uuid,
    email: String,
    name: String,
    role: String,
    created_at: DateTime<Utc>,
}

fn role(s: &str) -> Role {
    // The column has a CHECK constraint on the four names.
    s.parse().unwrap_or(Role::Viewer)
}

/// Adds a user to the transaction's tenant.
pub async fn add(tx: &mut TenantTx, user: UserId, role: Role) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| sqlx::query(
        "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)"
    )
    .bind(tenant)
    .bind(user.as_uuid())
    .bind(role.as_str())
    .bind(Utc::now())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The tenant's members, by user id (UUIDv7: oldest account first).
pub async fn list(tx: &mut TenantTx, cursor: Option<Cursor>, limit: Limit) -> Result<Page<Member>> {
    let tenant = tx.tenant().as_uuid();
    let after = cursor.map(Cursor::id).unwrap_or(Uuid::nil());
    let fetch = i64::from(limit.get()) + 1;
    let rows: Vec<Row> = with_conn!(tx, |c| {
        sqlx::query_as(
        "SELECT m.user_id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.tenant_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3"
    )
    .bind(tenant)
    .bind(after)
    .bind(fetch)
    .fetch_all(c)
    .await
    })?;
    let members = rows
        .into_iter()
        .map(|r| Member {
            user_id: UserId::from_uuid(r.user_id),
            email: r.email,
            name: r.name,
            role: role(&r.role),
            created_at: r.created_at,
        })
        .collect();
    Ok(Page::from_overfetch(members, limit, |m| {
        m.user_id.as_uuid()
    }))
}

/// One member of the transaction's tenant.
pub async fn get(tx: &mut TenantTx, user: UserId) -> Result<Option<Member>> {
    let tenant = tx.tenant().as_uuid();
    let row: Option<Row> = with_conn!(tx, |c| {
        sqlx::query_as(
        "SELECT m.user_id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.tenant_id = $1 AND m.user_id = $2"
    )
    .bind(tenant)
    .bind(user.as_uuid())
    .fetch_optional(c)
    .await
    })?;
    Ok(row.map(member))
}

fn member(r: Row) -> Member {
    Member {
        user_id: UserId::from_uuid(r.user_id),
        email: r.email,
        name: r.name,
        role: role(&r.role),
        created_at: r.created_at,
    }
}

/// The role of a user in the transaction's tenant, if a member: for a
/// member's request, or to check a credential before there is a caller.
pub async fn role_of<S: Scoped>(tx: &mut Tx<S>, user: UserId) -> Result<Option<Role>> {
    let tenant = tx.tenant().as_uuid();
    let row: Option<(String,)> = with_conn!(tx, |c| sqlx::query_as(
        "SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2"
    )
    .bind(tenant)
    .bind(user.as_uuid())
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|(r,)| role(&r)))
}

/// Every tenant a user belongs to, oldest membership first. Used at sign-in,
/// once the user has proved who they are; a keyed lookup under RLS.
pub async fn of_user(store: &Store, user: UserId) -> Result<Vec<(TenantId, Role)>> {
    const SQL: &str =
        "SELECT tenant_id, role FROM memberships WHERE user_id = $1 ORDER BY created_at, tenant_id";
    let rows: Vec<(Uuid, String)> = match &store.pool {
        Pool::Sqlite(p) => {
            sqlx::query_as(SQL)
                .bind(user.as_uuid())
                .fetch_all(p)
                .await?
        }
        Pool::Postgres(p) => {
            let mut tx = p.begin().await?;
            set_local(&mut tx, "app.user_id", &user.to_string()).await?;
            let rows = sqlx::query_as(SQL)
                .bind(user.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            rows
        }
    };
    Ok(rows
        .into_iter()
        .map(|(t, r)| (TenantId::from_uuid(t), role(&r)))
        .collect())
}

/// How many owners the transaction's tenant has.
pub async fn owner_count(tx: &mut TenantTx) -> Result<i64> {
    let tenant = tx.tenant().as_uuid();
    let (n,): (i64,) = with_conn!(tx, |c| sqlx::query_as(
        "SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND role = 'owner'"
    )
    .bind(tenant)
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// Changes a member's role; not found when the user is not a member.
pub async fn set_role(tx: &mut TenantTx, user: UserId, role: Role) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| sqlx::query(
        "UPDATE memberships SET role = $1 WHERE tenant_id = $2 AND user_id = $3"
    )
    .bind(role.as_str())
    .bind(tenant)
    .bind(user.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(crate::StoreError::NotFound);
    }
    Ok(())
}

/// Removes a member from the tenant; not found when not a member.
pub async fn remove(tx: &mut TenantTx, user: UserId) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| sqlx::query(
        "DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2"
    )
    .bind(tenant)
    .bind(user.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(crate::StoreError::NotFound);
    }
    Ok(())
}
