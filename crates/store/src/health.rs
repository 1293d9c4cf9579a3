//! Readiness and set-up checks (`/readyz`, `bizosaas doctor`).

use crate::connect::{Pool, Store, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use crate::tx::with_pool;
use crate::Result;
use std::collections::HashSet;

/// Whether the schema is current.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Migrations the binary has that the database has not applied.
    pub pending: Vec<String>,
}

/// PostgreSQL isolation checks: what would let a tenant see another's rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityReport {
    /// The runtime role.
    pub role: String,
    /// It is a superuser (RLS does not apply).
    pub superuser: bool,
    /// It has BYPASSRLS.
    pub bypass_rls: bool,
    /// Tables it owns.
    pub owned_tables: Vec<String>,
    /// Tables with a tenant_id column lacking enabled and forced RLS.
    pub unprotected_tables: Vec<String>,
    /// Whether the vector extension is installed.
    pub vector_extension: bool,
}

impl SecurityReport {
    /// Problems found, as sentences.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.superuser {
            out.push(format!(
                "runtime role `{}` is a superuser, so row-level security does not apply",
                self.role
            ));
        }
        if self.bypass_rls {
            out.push(format!("runtime role `{}` has BYPASSRLS", self.role));
        }
        if !self.owned_tables.is_empty() {
            out.push(format!(
                "runtime role `{}` owns tables: {}",
                self.role,
                self.owned_tables.join(", ")
            ));
        }
        if !self.unprotected_tables.is_empty() {
            out.push(format!(
                "tables without forced row-level security: {}",
                self.unprotected_tables.join(", ")
            ));
        }
        if !self.vector_extension {
            out.push("the `vector` extension (pgvector) is not installed".into());
        }
        out
    }
}

/// A database that was never migrated has no bookkeeping table: nothing is
/// applied. Any other failure (the database is down) is an error, not "pending".
fn never_migrated_is_empty(rows: sqlx::Result<Vec<(i64,)>>) -> Result<Vec<(i64,)>> {
    match rows {
        Err(sqlx::Error::Database(e))
            if e.code().as_deref() == Some("42P01") || e.message().contains("no such table") =>
        {
            Ok(Vec::new())
        }
        other => Ok(other?),
    }
}

impl Store {
    /// One round trip to the database.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Compares applied migrations with the ones built into the binary.
    pub async fn migration_status(&self) -> Result<MigrationStatus> {
        const SQL: &str = "SELECT version FROM _sqlx_migrations WHERE success";
        let (applied, migrator): (Vec<(i64,)>, _) = match &self.pool {
            Pool::Sqlite(p) => (
                never_migrated_is_empty(sqlx::query_as(SQL).fetch_all(p).await)?,
                &SQLITE_MIGRATIONS,
            ),
            Pool::Postgres(p) => (
                never_migrated_is_empty(sqlx::query_as(SQL).fetch_all(p).await)?,
                &POSTGRES_MIGRATIONS,
            ),
        };
        let applied: HashSet<i64> = applied.into_iter().map(|(v,)| v).collect();
        let pending = migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| format!("{} {}", m.version, m.description))
            .collect();
        Ok(MigrationStatus { pending })
    }

    /// PostgreSQL only: the `app.tenant_id` a connection from the pool carries
    /// when checked out (must be empty: nothing may inherit a tenant).
    pub async fn idle_session_tenant(&self) -> Result<Option<String>> {
        let Pool::Postgres(p) = &self.pool else {
            return Ok(None);
        };
        let (v,): (Option<String>,) =
            sqlx::query_as("SELECT current_setting('app.tenant_id', true)")
                .fetch_one(p)
                .await?;
        Ok(v.filter(|v| !v.is_empty()))
    }

    /// PostgreSQL only: how the runtime role stands with respect to RLS.
    pub async fn security_report(&self) -> Result<Option<SecurityReport>> {
        let Pool::Postgres(p) = &self.pool else {
            return Ok(None);
        };
        let (role, superuser, bypass_rls): (String, bool, bool) = sqlx::query_as(
            "SELECT rolname::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(p)
        .await?;
        let owned: Vec<(String,)> = sqlx::query_as(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind = 'r' AND pg_get_userbyid(c.relowner) = current_user ORDER BY 1",
        )
        .fetch_all(p)
        .await?;
        let unprotected: Vec<(String,)> = sqlx::query_as(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind = 'r' \
               AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) \
                    OR c.relname = 'tenants') \
               AND NOT (c.relrowsecurity AND c.relforcerowsecurity) ORDER BY 1",
        )
        .fetch_all(p)
        .await?;
        let (vector,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')")
                .fetch_one(p)
                .await?;
        Ok(Some(SecurityReport {
            role,
            superuser,
            bypass_rls,
            owned_tables: owned.into_iter().map(|(t,)| t).collect(),
            unprotected_tables: unprotected.into_iter().map(|(t,)| t).collect(),
            vector_extension: vector,
        }))
    }
}
