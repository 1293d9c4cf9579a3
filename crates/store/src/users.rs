//! Accounts (global: a user may belong to several tenants) and their
//! password credentials.

use crate::connect::Store;
use crate::tx::{with_conn, with_pool, TenantTx};
use crate::Result;
use chrono::{DateTime, Utc};
use domain::validation::{DisplayName, Email};
use domain::UserId;
use uuid::Uuid;

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Normalised email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// What signing in needs to know about an account.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The user.
    pub user: User,
    /// Argon2id PHC string; absent for accounts that only use single sign-on.
    pub password_hash: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    email: String,
    name: String,
    created_at: DateTime<Utc>,
    password_hash: Option<String>,
}

/// Creates an account inside a tenant transaction (registration). The email
/// is unique: a second account conflicts on `users_email_key`.
pub async fn create(
    tx: &mut TenantTx,
    id: UserId,
    email: &Email,
    name: &DisplayName,
    password_hash: &str,
) -> Result<User> {
    insert(tx, id, email, name, Some(password_hash)).await
}

/// Creates an account that signs in only through a linked provider until
/// its owner sets a password.
pub async fn create_without_password(
    tx: &mut TenantTx,
    id: UserId,
    email: &Email,
    name: &DisplayName,
) -> Result<User> {
    insert(tx, id, email, name, None).await
}

async fn insert(
    tx: &mut TenantTx,
    id: UserId,
    email: &Email,
    name: &DisplayName,
    password_hash: Option<&str>,
) -> Result<User> {
    let user = User {
        id,
        email: email.as_str().to_string(),
        name: name.as_str().to_string(),
        created_at: Utc::now(),
    };
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO users (id, email, name, created_at, password_hash) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(user.id.as_uuid())
    .bind(&user.email)
    .bind(&user.name)
    .bind(user.created_at)
    .bind(password_hash)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(user)
}

/// The credentials of the account with this email, if any.
pub async fn credentials(store: &Store, email: &Email) -> Result<Option<Credentials>> {
    fetch_credentials(
        store,
        "SELECT id, email, name, created_at, password_hash FROM users WHERE email = $1",
        email.as_str().to_string(),
    )
    .await
}

/// The credentials of the account with this id, if any.
pub async fn credentials_by_id(store: &Store, id: UserId) -> Result<Option<Credentials>> {
    fetch_credentials(
        store,
        "SELECT id, email, name, created_at, password_hash FROM users WHERE id = $1",
        id.as_uuid(),
    )
    .await
}

async fn fetch_credentials<K>(
    store: &Store,
    sql: &'static str,
    key: K,
) -> Result<Option<Credentials>>
where
    K: 'static
        + for<'q> sqlx::Encode<'q, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'q> sqlx::Encode<'q, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + Send,
{
    let row: Option<Row> = with_pool!(store, |p| sqlx::query_as(sql)
        .bind(key)
        .fetch_optional(p)
        .await)?;
    Ok(row.map(|r| Credentials {
        user: User {
            id: UserId::from_uuid(r.id),
            email: r.email,
            name: r.name,
            created_at: r.created_at,
        },
        password_hash: r.password_hash,
    }))
}

/// Sets a new password and clears any lockout.
pub async fn set_password(store: &Store, id: UserId, password_hash: &str) -> Result<()> {
    const SQL: &str =
        "UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL WHERE id = $2";
    let n = with_pool!(store, |p| sqlx::query(SQL)
        .bind(password_hash)
        .bind(id.as_uuid())
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(crate::StoreError::NotFound);
    }
    Ok(())
}

/// Changes a user's name and email (an email another account holds is a
/// conflict), inside the caller's transaction so its audit entry lands with it.
pub async fn update_profile(
    tx: &mut TenantTx,
    id: UserId,
    name: &DisplayName,
    email: &Email,
) -> Result<()> {
    let n = with_conn!(tx, |c| sqlx::query(
        "UPDATE users SET name = $1, email = $2 WHERE id = $3"
    )
    .bind(name.as_str())
    .bind(email.as_str())
    .bind(id.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(crate::StoreError::NotFound);
    }
    Ok(())
}
