//! The model budgets' ledger in Redis (the test Redis of
//! scripts/services.sh): holds fit or not atomically, settle, lapse when
//! their lease ends, and stay with their tenant.

use anyhow::Result;
use domain::TenantId;
use std::time::Duration;
use store::budgets::Budget;
use store::redis_ledger::RedisLedger;

async fn ledger(lease: Duration) -> Result<RedisLedger> {
    let url = std::env::var("BIZOSAAS_TEST_REDIS_URL")
        .expect("BIZOSAAS_TEST_REDIS_URL is not set: run scripts/services.sh and source its env");
    Ok(RedisLedger::connect(&url, "test:", lease).await?)
}

const MONTH: &str = "2026-12";

fn tokens(n: i64) -> Budget {
    Budget {
        monthly_tokens: Some(n),
        monthly_cost_micros: None,
        requests_per_minute: None,
    }
}

#[tokio::test]
async fn a_hold_that_does_not_fit_is_refused_and_one_that_fits_is_counted_once_settled(
) -> Result<()> {
    let l = ledger(Duration::from_secs(60)).await?;
    let t = TenantId::new();
    let a = l.reserve(t, MONTH, tokens(100), 60, 0).await?;
    let held = a.hold.expect("60 of 100 fits");
    assert!(
        l.reserve(t, MONTH, tokens(100), 60, 0)
            .await?
            .hold
            .is_none(),
        "60 more does not"
    );
    l.settle(t, MONTH, &held, 25, 7).await?;
    let used = l.month_use(t, MONTH).await?;
    assert_eq!(
        (used.tokens, used.cost_micros, used.reserved_tokens),
        (25, 7, 0)
    );
    assert!(
        l.reserve(t, MONTH, tokens(100), 60, 0)
            .await?
            .hold
            .is_some(),
        "now it fits"
    );
    Ok(())
}

#[tokio::test]
async fn a_hold_never_settled_lapses_when_its_lease_ends() -> Result<()> {
    let l = ledger(Duration::from_millis(200)).await?;
    let t = TenantId::new();
    let held = l.reserve(t, MONTH, tokens(100), 90, 0).await?.hold.unwrap();
    assert_eq!(l.month_use(t, MONTH).await?.reserved_tokens, 90);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        l.month_use(t, MONTH).await?.reserved_tokens,
        0,
        "given back"
    );
    l.settle(t, MONTH, &held, 40, 0).await?;
    let used = l.month_use(t, MONTH).await?;
    assert_eq!(
        (used.tokens, used.reserved_tokens),
        (40, 0),
        "a late settle still counts the use"
    );
    Ok(())
}

#[tokio::test]
async fn one_tenants_holds_never_count_against_anothers_budget() -> Result<()> {
    let l = ledger(Duration::from_secs(60)).await?;
    let (acme, globex) = (TenantId::new(), TenantId::new());
    l.reserve(acme, MONTH, tokens(100), 100, 0)
        .await?
        .hold
        .unwrap();
    assert!(l
        .reserve(globex, MONTH, tokens(100), 100, 0)
        .await?
        .hold
        .is_some());
    assert_eq!(l.month_use(globex, MONTH).await?.reserved_tokens, 100);
    Ok(())
}
