//! Invitations to join a tenant: only the hash of the link's token is stored.

use crate::connect::Store;
use crate::tx::{fetch_by_hash, with_conn, SystemTx, TenantTx};
use crate::{Result, StoreError};
use chrono::{DateTime, Utc};
use domain::roles::Role;
use domain::tokens::GeneratedToken;
use domain::validation::Email;
use domain::{InvitationId, TenantId, UserId};
use uuid::Uuid;

/// A stored invitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// Id.
    pub id: InvitationId,
    /// The tenant to join.
    pub tenant_id: TenantId,
    /// Who is invited.
    pub email: String,
    /// With which role.
    pub role: Role,
    /// Who invited them.
    pub invited_by: Option<UserId>,
    /// Sent.
    pub created_at: DateTime<Utc>,
    /// The link stops working then.
    pub expires_at: DateTime<Utc>,
    /// Used.
    pub accepted_at: Option<DateTime<Utc>>,
    /// Withdrawn.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Invitation {
    /// Whether the link can still be used.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.accepted_at.is_none() && self.revoked_at.is_none() && self.expires_at > now
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    tenant_id: Uuid,
    email: String,
    role: String,
    invited_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<Row> for Invitation {
    fn from(r: Row) -> Self {
        Invitation {
            id: InvitationId::from_uuid(r.id),
            tenant_id: TenantId::from_uuid(r.tenant_id),
            email: r.email,
            // The column has a CHECK constraint on the four names.
            role: r.role.parse().unwrap_or(Role::Viewer),
            invited_by: r.invited_by.map(UserId::from_uuid),
            created_at: r.created_at,
            expires_at: r.expires_at,
            accepted_at: r.accepted_at,
            revoked_at: r.revoked_at,
        }
    }
}

macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT id, tenant_id, email, role, invited_by, created_at, expires_at, accepted_at, revoked_at FROM invitations ",
            $tail
        )
    };
}

/// Records an invitation from the transaction's actor.
pub async fn create(
    tx: &mut TenantTx,
    email: &Email,
    role: Role,
    token: &GeneratedToken,
    expires_at: DateTime<Utc>,
) -> Result<Invitation> {
    let inv = Invitation {
        id: InvitationId::new(),
        tenant_id: tx.tenant(),
        email: email.as_str().to_string(),
        role,
        invited_by: tx.actor().user_id(),
        created_at: Utc::now(),
        expires_at,
        accepted_at: None,
        revoked_at: None,
    };
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO invitations (id, tenant_id, email, role, token_hash, invited_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(inv.id.as_uuid())
    .bind(inv.tenant_id.as_uuid())
    .bind(&inv.email)
    .bind(role.as_str())
    .bind(&token.hash)
    .bind(inv.invited_by.map(|u| u.as_uuid()))
    .bind(inv.created_at)
    .bind(expires_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(inv)
}

/// The tenant's open invitations, newest first.
pub async fn list_open(tx: &mut TenantTx) -> Result<Vec<Invitation>> {
    let tenant = tx.tenant().as_uuid();
    let rows: Vec<Row> = with_conn!(tx, |c| {
        sqlx::query_as(select!(
        "WHERE tenant_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2 ORDER BY id DESC LIMIT 500"
    ))
    .bind(tenant)
    .bind(Utc::now())
    .fetch_all(c)
    .await
    })?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Withdraws an open invitation of the tenant.
pub async fn revoke(tx: &mut TenantTx, id: InvitationId) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| {
        sqlx::query(
        "UPDATE invitations SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND accepted_at IS NULL AND revoked_at IS NULL"
    )
    .bind(Utc::now())
    .bind(tenant)
    .bind(id.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Finds an invitation by the hash of its link's token (keyed lookup).
pub async fn find_by_hash(store: &Store, hash: &str) -> Result<Option<Invitation>> {
    let row: Option<Row> = fetch_by_hash(store, select!("WHERE token_hash = $1"), hash).await?;
    Ok(row.map(Into::into))
}

/// Marks an invitation used, once: a second use (a replayed link, or two
/// concurrent accepts) finds nothing to mark and fails with a conflict.
pub async fn mark_accepted(tx: &mut TenantTx, id: InvitationId) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| {
        sqlx::query(
        "UPDATE invitations SET accepted_at = $1 WHERE tenant_id = $2 AND id = $3 AND accepted_at IS NULL AND revoked_at IS NULL"
    )
    .bind(Utc::now())
    .bind(tenant)
    .bind(id.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::Conflict("invitation already used".into()));
    }
    Ok(())
}

/// Deletes the tenant's invitations whose link no longer works (expired or
/// revoked); the audit log keeps their history. Returns how many.
pub async fn purge_ended(tx: &mut SystemTx, now: DateTime<Utc>) -> Result<u64> {
    let tenant = tx.tenant().as_uuid();
    Ok(with_conn!(tx, |c| {
        sqlx::query(
            "DELETE FROM invitations WHERE tenant_id = $1 AND (expires_at < $2 OR revoked_at IS NOT NULL)",
        )
        .bind(tenant)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?)
}
