//! Resolving a bearer credential on a request: cold (every lookup goes to
//! the database: cache TTL zero) and warm (the verified-credential cache).
//! Run: `cargo bench -p api --bench resolver` (SQLite), and with
//! `BIZOSAAS_TEST_PG_ADMIN_URL` set for PostgreSQL (scripts/services.sh).

use criterion::{criterion_group, criterion_main, Criterion};
use domain::roles::Role;
use domain::tokens::Scope;
use std::time::Duration;
use testkit::{Db, TestApp, TestDb};

fn backends() -> Vec<Db> {
    let mut v = vec![Db::Sqlite];
    if std::env::var("BIZOSAAS_TEST_PG_ADMIN_URL").is_ok() {
        v.push(Db::Postgres);
    }
    v
}

fn resolver(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for db in backends() {
        for (label, ttl) in [
            ("cold", Duration::ZERO),
            ("warm", Duration::from_secs(3600)),
        ] {
            let (app, token, personal, session) = rt.block_on(async {
                let config = app::Settings {
                    token_cache_ttl: ttl,
                    ..Default::default()
                };
                let app = TestApp::spawn_with(TestDb::create(db).await.unwrap(), config)
                    .await
                    .unwrap();
                let t = app.tenant("Bench").await.unwrap();
                let token = app.token_for(t.id, &[Scope::Admin]).await.unwrap();
                let session = app
                    .member(t.id, "bench@acme.io", Role::Admin)
                    .await
                    .unwrap();
                (app, token, t.token, session)
            });
            let state = app.state();
            let mut group = c.benchmark_group(format!("resolve/{db:?}/{label}"));
            group.bench_function("api_token", |b| {
                b.to_async(&rt)
                    .iter(|| async { app::access::resolve(&state, &token).await.unwrap() })
            });
            // A personal token also looks up its user's current role.
            group.bench_function("personal_token", |b| {
                b.to_async(&rt)
                    .iter(|| async { app::access::resolve(&state, &personal).await.unwrap() })
            });
            group.bench_function("session", |b| {
                b.to_async(&rt)
                    .iter(|| async { app::access::resolve(&state, &session).await.unwrap() })
            });
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(200).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = resolver
}
criterion_main!(benches);
