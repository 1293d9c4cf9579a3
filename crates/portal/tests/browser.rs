//! The portal in headless Chromium: sign-in, every section, the dashboard
//! refresh, errors, the audit log and a phone-sized screen. Every test
//! saves screenshots under `target/e2e/`.

use anyhow::Result;
use domain::roles::Role;
use std::time::Duration;
use testkit::{TestApp, MEMBER_PASSWORD, PLAN_ROUTES};

/// The portal's pages besides the plan's addresses ([`PLAN_ROUTES`]).
const OTHER_PAGES: &[&str] = &[
    "/knowledge",
    "/workflows",
    "/settings/audit-log",
    "/settings/profile",
    "/settings/members",
    "/settings/tokens",
];

async fn app_with_member(role: Role) -> Result<(TestApp, testkit::TestTenant)> {
    let app = TestApp::spawn(testkit::Db::Sqlite).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", role).await?;
    Ok((app, acme))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_and_out_in_the_browser() -> Result<()> {
    let (app, _) = app_with_member(Role::Admin).await?;
    let chrome = app.chrome().await?;
    chrome.goto("/").await?;
    assert!(chrome.path().await?.starts_with("/login"));
    chrome.screenshot("login").await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    assert_eq!(chrome.text("h1").await?, "Dashboard");
    chrome.screenshot("dashboard").await?;
    chrome.click(".usermenu summary").await?;
    chrome.screenshot("user-menu").await?;
    chrome.click(".usermenu button.linklike").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(chrome.path().await?, "/login");
    chrome.goto("/dashboard").await?;
    assert_eq!(chrome.path().await?, "/login?next=%2Fdashboard");
    assert!(chrome.console_errors().await?.is_empty());
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_section_loads_without_a_console_error() -> Result<()> {
    let (app, _) = app_with_member(Role::Admin).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    for path in PLAN_ROUTES.iter().chain(OTHER_PAGES) {
        chrome.goto(path).await?;
        assert_eq!(chrome.path().await?, *path, "stayed on {path}");
        let errors = chrome.console_errors().await?;
        assert!(errors.is_empty(), "{path}: {errors:?}");
        let name = format!("section{}", path.replace('/', "-"));
        chrome.screenshot(&name).await?;
    }
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_refreshes_its_cards_without_reloading() -> Result<()> {
    let (app, acme) = app_with_member(Role::Member).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    let members = "[data-metric=members] .metric-value";
    assert_eq!(chrome.text(members).await?, "2");
    // A marker that a full page load would wipe.
    chrome
        .client
        .execute("window.__kept = true;", vec![])
        .await?;
    app.member(acme.id, "max@acme.io", Role::Viewer).await?;
    chrome.click(".page-head button").await?;
    let mut seen = String::new();
    for _ in 0..50 {
        // The swap may replace the element between finding and reading it.
        seen = chrome.text(members).await.unwrap_or_default();
        if seen == "3" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, "3", "the card updated in place");
    let kept = chrome
        .client
        .execute("return window.__kept === true;", vec![])
        .await?;
    assert_eq!(kept, serde_json::Value::Bool(true), "no page reload");
    assert!(chrome.console_errors().await?.is_empty());
    chrome.screenshot("dashboard-refreshed").await?;
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_fits_a_375_pixel_phone() -> Result<()> {
    let (app, _) = app_with_member(Role::Admin).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    chrome.resize(375, 812).await?;
    for path in ["/dashboard", "/settings/members", "/settings/audit-log"] {
        chrome.goto(path).await?;
        let width = chrome
            .client
            .execute("return document.documentElement.scrollWidth;", vec![])
            .await?;
        chrome
            .screenshot(&format!("phone{}", path.replace('/', "-")))
            .await?;
        let wide = chrome
            .client
            .execute(
                "return [...document.querySelectorAll('body *')].filter(e => !e.closest('.sidenav, .table-wrap') && e.getBoundingClientRect().right > 376).slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));",
                vec![],
            )
            .await?;
        assert!(
            width.as_u64().unwrap_or(9999) <= 375,
            "{path} scrolls sideways: {width}; widest: {wide}"
        );
    }
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_filters_in_the_browser() -> Result<()> {
    // An admin: the export button is theirs.
    let (app, _) = app_with_member(Role::Admin).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    chrome.goto("/settings/audit-log").await?;
    chrome.fill("action", "auth.login").await?;
    chrome.click(".filters button.btn-primary").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(chrome.path().await?.contains("action=auth.login"));
    let cells = chrome.text("tbody").await?;
    assert!(cells.contains("auth.login"));
    let export = chrome
        .client
        .find(fantoccini::Locator::Css("a[download]"))
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    assert!(
        export.contains("/settings/audit-log/export?action=auth.login"),
        "{export}"
    );
    chrome.screenshot("audit-log-filtered").await?;
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_pages_in_the_browser() -> Result<()> {
    let (app, _) = app_with_member(Role::Viewer).await?;
    let chrome = app.chrome().await?;
    chrome.goto("/no/such/page").await?;
    assert_eq!(chrome.text("h1").await?, "Page not found");
    chrome.screenshot("error-404").await?;
    // An expired session on a page leads to sign-in and back.
    chrome.goto("/settings/members").await?;
    assert_eq!(chrome.path().await?, "/login?next=%2Fsettings%2Fmembers");
    chrome.fill("email", "mia@acme.io").await?;
    chrome.fill("password", MEMBER_PASSWORD).await?;
    chrome.click("button[type=submit]").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(chrome.path().await?, "/settings/members");
    // A wrong password shows the error inline and keeps the email.
    chrome.client.delete_all_cookies().await?;
    chrome.goto("/login").await?;
    chrome.fill("email", "mia@acme.io").await?;
    chrome.fill("password", "wrong password").await?;
    chrome.click("button[type=submit]").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(chrome
        .text(".alert")
        .await?
        .contains("email or password is wrong"));
    chrome.screenshot("login-wrong-password").await?;
    chrome.close().await
}

/// An app on PostgreSQL reached through a proxy the test can cut or stall,
/// with a member signed in on the dashboard.
async fn dashboard_behind_a_proxy(
    acquire_timeout: Duration,
) -> Result<(TestApp, testkit::proxy::TcpProxy, testkit::e2e::Chrome)> {
    let mut test_db = testkit::TestDb::create(testkit::Db::Postgres).await?;
    let proxy = test_db.route_through_proxy().await?;
    test_db.config.acquire_timeout = acquire_timeout;
    let app = TestApp::spawn_with(test_db, app::Settings::default()).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    Ok((app, proxy, chrome))
}

/// Clicks the toast's Retry and waits for the cards to show both members
/// and the toast to be gone.
async fn retry_refreshes_the_cards(chrome: &testkit::e2e::Chrome) -> Result<()> {
    chrome.click("#toasts button.btn").await?;
    for _ in 0..80 {
        if chrome.text("#toasts").await.unwrap_or_default().is_empty()
            && chrome
                .text("[data-metric=members] .metric-value")
                .await
                .unwrap_or_default()
                == "2"
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the retry did not refresh the cards")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_during_a_refresh_shows_a_toast_whose_retry_works() -> Result<()> {
    let (_app, proxy, chrome) = dashboard_behind_a_proxy(Duration::from_millis(500)).await?;
    proxy.take_down();
    chrome.click(".page-head button").await?;
    let toast = chrome.wait_text("#toasts .toast").await?;
    assert!(toast.contains("Retry"), "a toast with a retry: {toast:?}");
    chrome.screenshot("toast-outage").await?;
    proxy.bring_up();
    tokio::time::sleep(Duration::from_millis(500)).await;
    retry_refreshes_the_cards(&chrome).await?;
    assert_eq!(chrome.path().await?, "/dashboard", "still on the page");
    chrome.close().await
}

/// Submits a form the page does not offer, as a crafted request would.
const POST_INVITE: &str = r#"
const f = document.createElement('form');
f.method = 'post'; f.action = '/settings/members/invite';
for (const [k, v] of [['csrf', document.querySelector('meta[name=csrf-token]').content], ['email', arguments[0]], ['role', 'viewer']]) {
  const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
}
document.body.appendChild(f); f.submit();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_action_shows_a_permission_page_naming_the_role() -> Result<()> {
    let (app, _) = app_with_member(Role::Viewer).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    chrome
        .client
        .execute(POST_INVITE, vec![serde_json::json!("x@acme.io")])
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(chrome.text("h1").await?, "You do not have permission");
    assert!(chrome.text("main").await?.contains("`admin` role"));
    chrome.screenshot("error-403").await?;
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_shows_a_conflict_message() -> Result<()> {
    let (app, acme) = app_with_member(Role::Admin).await?;
    app.member(acme.id, "max@acme.io", Role::Viewer).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    chrome.goto("/settings/members").await?;
    chrome.fill("email", "max@acme.io").await?;
    chrome
        .click("form[action='/settings/members/invite'] button")
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(chrome.text(".alert").await?.contains("already a member"));
    let kept = chrome
        .client
        .find(fantoccini::Locator::Css("[name=email]"))
        .await?
        .prop("value")
        .await?;
    assert_eq!(
        kept.as_deref(),
        Some("max@acme.io"),
        "what was typed is kept"
    );
    chrome.screenshot("conflict").await?;
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_shows_the_request_id_and_a_support_link() -> Result<()> {
    let (app, _) = app_with_member(Role::Viewer).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    // Break the store under the running app: the page cannot be built.
    let pool = sqlx::SqlitePool::connect(&app.db.config.url).await?;
    sqlx::query("ALTER TABLE audit_logs RENAME TO audit_logs_gone")
        .execute(&pool)
        .await?;
    chrome.goto("/settings/audit-log").await?;
    assert_eq!(chrome.text("h1").await?, "Something went wrong on our side");
    let id = chrome.text("code").await?;
    assert_eq!(id.len(), 36, "a request id: {id}");
    let support = chrome
        .client
        .find(fantoccini::Locator::Css("a[href^='mailto:']"))
        .await?;
    assert!(support
        .attr("href")
        .await?
        .unwrap_or_default()
        .contains(&id));
    chrome.screenshot("error-500").await?;
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_sign_ins_say_when_to_retry() -> Result<()> {
    let config = app::Settings {
        login_attempts_per_minute: 2,
        ..Default::default()
    };
    let app =
        TestApp::spawn_with(testkit::TestDb::create(testkit::Db::Sqlite).await?, config).await?;
    let chrome = app.chrome().await?;
    for _ in 0..3 {
        chrome.goto("/login").await?;
        chrome.fill("email", "mia@acme.io").await?;
        chrome.fill("password", "wrong password").await?;
        chrome.click("button[type=submit]").await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(chrome.text("h1").await?, "Too many requests");
    assert!(chrome.text("main").await?.contains("retry in"));
    chrome.screenshot("error-429").await?;
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_offline_shows_the_indicator() -> Result<()> {
    let (app, _) = app_with_member(Role::Viewer).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    let hidden = || async {
        chrome
            .client
            .execute("return document.getElementById('offline').hidden;", vec![])
            .await
    };
    assert_eq!(hidden().await?, serde_json::Value::Bool(true));
    chrome.set_offline(true).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hidden().await?, serde_json::Value::Bool(false));
    chrome.screenshot("offline").await?;
    chrome.set_offline(false).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hidden().await?, serde_json::Value::Bool(true));
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_member_asks_in_a_dialog_first() -> Result<()> {
    let (app, acme) = app_with_member(Role::Admin).await?;
    app.member(acme.id, "max@acme.io", Role::Viewer).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    chrome.goto("/settings/members").await?;
    let crumbs = chrome.text(".crumbs").await?;
    assert!(
        crumbs.contains("Settings") && crumbs.contains("Members"),
        "{crumbs}"
    );
    let up = chrome
        .client
        .find(fantoccini::Locator::Css(".crumbs a"))
        .await?;
    assert_eq!(up.attr("href").await?.as_deref(), Some("/settings"));
    let remove = "button[data-confirm*='max@acme.io']";
    chrome.click(remove).await?;
    assert!(chrome
        .text("#confirm")
        .await?
        .contains("Remove max@acme.io"));
    chrome.screenshot("confirm-dialog").await?;
    chrome.click("[data-dialog-cancel]").await?;
    assert!(
        chrome.text("tbody").await?.contains("max@acme.io"),
        "cancel keeps the member"
    );
    chrome.click(remove).await?;
    chrome.click("[data-dialog-ok]").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(chrome.text(".toast").await?.contains("removed"));
    assert!(!chrome.text("tbody").await?.contains("max@acme.io"));
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_and_revoking_a_provider_key_in_the_browser() -> Result<()> {
    let (app, _) = app_with_member(Role::Admin).await?;
    app.llm.accept("sk-proj-browser-key-00000QRST");
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    chrome.goto("/ai-agents/byok").await?;
    chrome
        .fill("api_key", "sk-proj-wrong-key-000000000")
        .await?;
    chrome
        .click("form[action='/ai-agents/byok'] button.btn-primary")
        .await?;
    assert!(chrome
        .wait_text(".field-error")
        .await?
        .contains("OpenAI rejected the key"));
    chrome.screenshot("byok-rejected").await?;
    chrome
        .fill("api_key", "sk-proj-browser-key-00000QRST")
        .await?;
    chrome
        .click("form[action='/ai-agents/byok'] button.btn-primary")
        .await?;
    assert!(chrome.wait_text(".toast").await?.contains("ending in QRST"));
    assert!(chrome.text("tbody").await?.contains("…QRST"));
    chrome.screenshot("byok-saved").await?;
    chrome
        .click("form[action='/ai-agents/byok/openai/revoke'] button")
        .await?;
    assert!(chrome
        .text("#confirm")
        .await?
        .contains("Revoke the OpenAI key"));
    chrome.click("[data-dialog-ok]").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(chrome.wait_text(".toast").await?.contains("revoked"));
    chrome.screenshot("byok-revoked").await?;
    assert!(!chrome.text("tbody").await?.contains("…QRST"));
    // The browser itself notes the rejected form's 422; nothing else may fail.
    let errors = chrome.console_errors().await?;
    assert!(
        errors.iter().all(|e| e.contains("status of 422")),
        "{errors:?}"
    );
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_alone_reaches_the_content_and_every_section_with_a_visible_focus(
) -> Result<()> {
    use fantoccini::key::Key;
    let (app, _) = app_with_member(Role::Admin).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    chrome.goto("/dashboard").await?;
    let focused = || async {
        let v = chrome
            .client
            .execute(
                "const e = document.activeElement; const s = getComputedStyle(e); \
                 return [e.textContent.trim(), e.getAttribute('href') || '', s.outlineStyle, s.outlineWidth];",
                vec![],
            )
            .await?;
        let a: Vec<String> = serde_json::from_value(v)?;
        anyhow::Ok(a)
    };
    let body = chrome.client.find(fantoccini::Locator::Css("body")).await?;
    body.send_keys(&Key::Tab.to_string()).await?;
    let first = focused().await?;
    assert_eq!(first[0], "Skip to content", "{first:?}");
    assert_eq!(first[2], "solid", "the focus ring shows: {first:?}");
    chrome.screenshot("keyboard-skip-link").await?;
    // Tab on through the header and the navigation to the AI Agents entry.
    let mut reached = false;
    for _ in 0..20 {
        chrome
            .client
            .active_element()
            .await?
            .send_keys(&Key::Tab.to_string())
            .await?;
        let now = focused().await?;
        assert_ne!(
            now[2], "none",
            "every focused control shows its focus: {now:?}"
        );
        if now[1] == "/ai-agents" {
            reached = true;
            break;
        }
    }
    assert!(reached, "the navigation is reachable by Tab");
    chrome
        .client
        .active_element()
        .await?
        .send_keys(&Key::Enter.to_string())
        .await?;
    assert_eq!(chrome.wait_text("h1").await?, "AI Agents");
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_that_takes_too_long_shows_a_timeout_toast_whose_retry_works() -> Result<()> {
    let (_app, proxy, chrome) = dashboard_behind_a_proxy(Duration::from_secs(5)).await?;
    // The portal waits 10 s; the test shortens that rather than waiting.
    chrome
        .client
        .execute("htmx.config.timeout = 400;", vec![])
        .await?;
    proxy.stall();
    chrome.click(".page-head button").await?;
    let toast = chrome.wait_text("#toasts .toast").await?;
    assert!(toast.contains("took too long"), "{toast}");
    assert!(toast.contains("Retry"), "{toast}");
    chrome.screenshot("toast-timeout").await?;
    proxy.bring_up();
    tokio::time::sleep(Duration::from_millis(300)).await;
    chrome
        .client
        .execute("htmx.config.timeout = 10000;", vec![])
        .await?;
    retry_refreshes_the_cards(&chrome).await?;
    chrome.close().await
}

/// Changes the fields of `patch` in an agent's configuration, through the API.
async fn configure(app: &TestApp, token: &str, id: &str, patch: serde_json::Value) -> Result<()> {
    let path = format!("/api/v1/agents/{id}/config");
    let mut config = app.get_json(&path, token).await?;
    for (field, value) in patch.as_object().unwrap() {
        config[field] = value.clone();
    }
    let res = app
        .request(reqwest::Method::PUT, &path, token)
        .json(&config)
        .send()
        .await?;
    assert!(res.status().is_success(), "{}", res.text().await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_waits_for_approve_in_the_chat_and_then_runs() -> Result<()> {
    let (app, acme) = app_with_member(Role::Admin).await?;
    app.add_llm_key(&acme.token, "openai", "sk-proj-browser-approve-00001")
        .await?;
    let agents = app.get_json("/api/v1/agents", &acme.token).await?;
    let id = agents["items"].as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    configure(
        &app,
        &acme.token,
        &id,
        serde_json::json!({ "provider": "openai", "model": "gpt-4o-mini", "tools": ["send_email"] }),
    )
    .await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    chrome.goto(&format!("/ai-agents/{id}?tab=chat")).await?;
    chrome
        .fill(
            "message",
            r#"call send_email {"to":"buyer@example.com","subject":"Quote","body":"It is 42."}"#,
        )
        .await?;
    chrome.click("[data-send]").await?;
    let shows = |text: &'static str| {
        let chrome = &chrome;
        async move {
            for _ in 0..100 {
                if chrome.text("#messages").await?.contains(text) {
                    return Ok::<_, anyhow::Error>(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            anyhow::bail!("`{text}` never showed: {}", chrome.text("#messages").await?)
        }
    };
    shows("wants to run").await?;
    assert!(app.outbox.sent().is_empty(), "nothing sent before Approve");
    chrome.screenshot("agent-chat-approval").await?;
    chrome
        .click("form[data-approval] button[value=approve]")
        .await?;
    shows("The tool said: sent to buyer@example.com").await?;
    assert_eq!(app.outbox.sent().len(), 1);
    let errors = chrome.console_errors().await?;
    assert!(errors.is_empty(), "{errors:?}");
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_the_real_local_model_answers_in_the_chat_tab() -> Result<()> {
    let (app, acme) = app_with_member(Role::Admin).await?;
    let agents = app.get_json("/api/v1/agents", &acme.token).await?;
    let agent = &agents["items"].as_array().unwrap()[0];
    let id = agent["id"].as_str().unwrap().to_string();
    configure(
        &app,
        &acme.token,
        &id,
        serde_json::json!({
            "provider": "local",
            "model": testkit::llm::local_model(),
            "system_prompt": "You are a precise assistant. Use tools when they help.",
            "instructions": [],
            "tools": ["calculator"],
            "temperature": 0.0,
            "max_tokens": 96,
        }),
    )
    .await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    chrome.goto(&format!("/ai-agents/{id}?tab=chat")).await?;
    chrome
        .fill("message", "What is 23 times 19? Use the calculator.")
        .await?;
    chrome.click("[data-send]").await?;
    let mut shown = String::new();
    for _ in 0..300 {
        shown = chrome.text("#messages").await?;
        if shown.contains("calls calculator") && shown.matches("437").count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shown.contains("calls calculator"), "{shown}");
    assert!(
        shown.matches("437").count() >= 2,
        "the tool's result and the answer: {shown}"
    );
    chrome.screenshot("agent-chat-local-model").await?;
    let errors = chrome.console_errors().await?;
    assert!(errors.is_empty(), "{errors:?}");
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatting_with_an_agent_streams_the_answer_and_shows_its_tools() -> Result<()> {
    let (app, acme) = app_with_member(Role::Admin).await?;
    let key = "sk-proj-browser-chat-0000CHAT";
    app.add_llm_key(&acme.token, "openai", key).await?;
    let agents = app.get_json("/api/v1/agents", &acme.token).await?;
    let writer = agents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["template"] == "content-writer")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.llm.pause_between_chunks(Duration::from_millis(60));
    let chrome = app.chrome().await?;
    chrome.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    chrome
        .goto(&format!("/ai-agents/{writer}?tab=chat"))
        .await?;
    let said = |text: &'static str| {
        let chrome = &chrome;
        async move {
            for _ in 0..100 {
                if chrome.text("#messages").await?.contains(text) {
                    return Ok::<_, anyhow::Error>(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            anyhow::bail!("`{text}` never showed: {}", chrome.text("#messages").await?)
        }
    };
    chrome.fill("message", "hello from the browser").await?;
    chrome.click("[data-send]").await?;
    said("You said: hello from the browser").await?;
    // The answer shows before its stream has ended; Send is enabled again
    // only then.
    for _ in 0..100 {
        let busy = chrome
            .client
            .execute(
                "return document.querySelector('[data-send]').disabled",
                vec![],
            )
            .await?;
        if busy == serde_json::Value::Bool(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    chrome.fill("message", "call current_datetime {}").await?;
    chrome.click("[data-send]").await?;
    said("The tool said: 20").await?;
    assert!(chrome
        .text("#messages")
        .await?
        .contains("calls current_datetime"));
    chrome.screenshot("agent-chat").await?;
    // Both messages went to one conversation, kept across a reload.
    chrome
        .goto(&format!("/ai-agents/{writer}?tab=chat"))
        .await?;
    assert!(chrome
        .text("aside")
        .await?
        .contains("hello from the browser"));
    let errors = chrome.console_errors().await?;
    assert!(errors.is_empty(), "{errors:?}");
    chrome.close().await
}
