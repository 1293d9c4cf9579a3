//! Test support: a fresh database per test on either backend, the real app
//! on a random port, and tenants with tokens, so a test reads as its
//! specification.
//!
//! PostgreSQL comes from `scripts/services.sh`, which exports
//! `BIZOSAAS_TEST_PG_ADMIN_URL`. Without it a PostgreSQL test fails; it never
//! skips.

mod app;
mod browser;
mod db;
pub mod e2e;
pub mod llm;
pub mod llm_chat;
pub mod oidc;
mod outbox;
pub mod proxy;
pub mod slow_http;
pub mod sse;
pub mod temporal;
pub mod vault;
pub mod wordpress;

pub use app::{TestApp, TestTenant, WorkflowSetup, MEMBER_PASSWORD};
pub use browser::{Browser, Page, PLAN_ROUTES};
pub use db::{Db, TestDb};
pub use outbox::MemoryOutbox;

/// Declares `sqlite` and `postgres` test modules running each named async
/// function (taking a [`Db`], returning `anyhow::Result<()>`) on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::Db::Postgres).await
                }
            )*
        }
    };
}
