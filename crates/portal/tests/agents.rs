//! `/ai-agents` and `/ai-agents/{id}`: the agents listed, one created from
//! a template, each tab saving and the change persisting across a reload.

use anyhow::{Context, Result};
use domain::roles::Role;
use reqwest::StatusCode;
use testkit::{Browser, Db, TestApp, MEMBER_PASSWORD};

async fn signed_in(app: &TestApp, role: Role) -> Result<Browser> {
    let acme = app.tenant("Acme").await?;
    let email = format!("{role}@acme.io");
    app.member(acme.id, &email, role).await?;
    let b = app.browser();
    b.sign_in(&email, MEMBER_PASSWORD).await?;
    Ok(b)
}

/// Creates an agent from `template` and returns its page's address.
async fn create(b: &Browser, template: &str) -> Result<String> {
    let res = b
        .submit("/ai-agents", "/ai-agents", &[("template", template)])
        .await?;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let to = res.location.context("a redirect")?;
    Ok(to.split('?').next().unwrap().to_string())
}

async fn the_agents_page_lists_the_core_agents_and_the_templates(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = signed_in(&app, Role::Viewer).await?;
    let page = b.get("/ai-agents").await?;
    assert_eq!(page.status, StatusCode::OK);
    for name in ["Content Writer", "SEO Analyst", "Customer Support"] {
        assert!(page.body.contains(name), "{name}");
    }
    assert!(page.body.contains("<option value=\"pricing-analyst\">"));
    Ok(())
}

async fn an_agent_created_from_a_template_opens_on_its_page(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = signed_in(&app, Role::Admin).await?;
    let res = b
        .submit(
            "/ai-agents",
            "/ai-agents",
            &[("template", "meeting-summarizer")],
        )
        .await?;
    let page = b.follow(&res).await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Meeting Summarizer</h1>"));
    assert!(page.body.contains("Agent created from its template."));
    Ok(())
}

async fn each_tab_saves_and_the_change_persists(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = signed_in(&app, Role::Admin).await?;
    let at = create(&b, "sop-writer").await?;
    for (tab, fields, shown) in [
        (
            "prompt",
            vec![("system_prompt", "You write checklists for the bakery.")],
            "You write checklists for the bakery.",
        ),
        (
            "fine-tuning",
            vec![("instructions", "Use metric units.\nNumber every step.")],
            "Use metric units.\nNumber every step.",
        ),
        (
            "llm",
            vec![
                ("provider", "anthropic"),
                ("model", "claude-haiku-4-5"),
                ("temperature", "0.3"),
                ("max_tokens", "900"),
            ],
            "claude-haiku-4-5",
        ),
        (
            "tools",
            vec![("tool_calculator", "on")],
            "name=\"tool_calculator\" value=\"on\" checked",
        ),
        (
            "permissions",
            vec![("chat", "viewer"), ("edit", "admin")],
            "<option value=\"viewer\" selected>",
        ),
        (
            "basic",
            vec![
                ("name", "Bakery SOPs"),
                ("description", "Procedures for the bakery."),
            ],
            "<h1>Bakery SOPs</h1>",
        ),
    ] {
        let mut form = vec![("tab", tab)];
        form.extend(fields);
        let res = b.submit(&format!("{at}?tab={tab}"), &at, &form).await?;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{tab}: {}", res.body);
        assert!(
            b.follow(&res).await?.body.contains("Saved."),
            "{tab} says so"
        );
        let reloaded = b.get(&format!("{at}?tab={tab}")).await?;
        assert!(
            reloaded.body.contains(shown),
            "{tab} persisted: {}",
            reloaded.body
        );
    }
    Ok(())
}

async fn a_bad_value_is_shown_on_its_tab_and_not_saved(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = signed_in(&app, Role::Admin).await?;
    let at = create(&b, "sop-writer").await?;
    let res = b
        .submit(
            &format!("{at}?tab=llm"),
            &at,
            &[
                ("tab", "llm"),
                ("provider", "openai"),
                ("model", "gpt-4o-mini"),
                ("temperature", "5"),
                ("max_tokens", "100"),
            ],
        )
        .await?;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains("temperature: must be between 0 and 2"),
        "{}",
        res.body
    );
    let reloaded = b.get(&format!("{at}?tab=llm")).await?;
    assert!(!reloaded.body.contains("value=\"5\""));
    Ok(())
}

async fn a_viewer_sees_an_agent_but_cannot_change_it(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = signed_in(&app, Role::Viewer).await?;
    let list = b.get("/ai-agents").await?;
    let start = list
        .body
        .find("href=\"/ai-agents/0")
        .context("an agent link")?
        + 6;
    let at = &list.body[start..start + 47];
    assert_eq!(b.get(at).await?.status, StatusCode::OK);
    let res = b
        .submit(at, at, &[("tab", "basic"), ("name", "Mine now")])
        .await?;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    Ok(())
}

async fn without_script_a_message_posts_and_the_answer_shows_in_its_conversation(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mo@acme.io", Role::Member).await?;
    let b = app.browser();
    b.sign_in("mo@acme.io", MEMBER_PASSWORD).await?;
    let list = b.get("/ai-agents").await?;
    let start = list
        .body
        .find("href=\"/ai-agents/0")
        .context("an agent link")?
        + 6;
    let at = list.body[start..start + 47].to_string();
    let chat = format!("{at}?tab=chat");
    let res = b
        .submit(&chat, &format!("{at}/chat"), &[("message", "hello")])
        .await?;
    assert_eq!(res.status, StatusCode::CONFLICT, "no key yet");
    assert!(res.body.contains("/ai-agents/byok"), "{}", res.body);
    let key = "sk-proj-portal-chat-0000000001";
    app.add_llm_key(&acme.token, "openai", key).await?;
    let res = b
        .submit(&chat, &format!("{at}/chat"), &[("message", "hello")])
        .await?;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = b.follow(&res).await?;
    assert!(page.body.contains("You said: hello"), "{}", page.body);
    Ok(())
}

async fn the_apis_tab_shows_whether_the_agents_key_is_there(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "vi@acme.io", Role::Viewer).await?;
    let b = app.browser();
    b.sign_in("vi@acme.io", MEMBER_PASSWORD).await?;
    let list = b.get("/ai-agents").await?;
    let start = list
        .body
        .find("href=\"/ai-agents/0")
        .context("an agent link")?
        + 6;
    let apis = format!("{}?tab=apis", &list.body[start..start + 47]);
    let page = b.get(&apis).await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("missing"),
        "no OpenAI key yet: {}",
        page.body
    );
    assert!(page.body.contains("/ai-agents/byok"));
    app.add_llm_key(&acme.token, "openai", "sk-proj-apis-tab-000000000042")
        .await?;
    let page = b.get(&apis).await?;
    assert!(page.body.contains("present"), "{}", page.body);
    assert!(page.body.contains("ending 0042"), "{}", page.body);
    assert!(!page.body.contains("sk-proj-apis-tab"), "no key is shown");
    Ok(())
}

async fn the_usage_page_charts_tokens_per_day_and_sums_by_agent_and_model(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "ada@acme.io", Role::Admin).await?;
    app.member(acme.id, "vic@acme.io", Role::Viewer).await?;
    let key = "sk-proj-portal-usage-000000001";
    app.add_llm_key(&acme.token, "openai", key).await?;
    let agents = app.get_json("/api/v1/agents", &acme.token).await?;
    let id = agents["items"][0]["id"].as_str().unwrap().to_string();
    let name = agents["items"][0]["name"].as_str().unwrap().to_string();
    let res = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/agents/{id}/chat"),
            &acme.token,
        )
        .json(&serde_json::json!({ "message": "count me" }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let b = app.browser();
    b.sign_in("ada@acme.io", MEMBER_PASSWORD).await?;
    let page = b.get("/ai-agents/usage").await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg"), "a chart");
    assert!(page.body.contains("Tokens per day"));
    assert!(page.body.contains("1 calls"), "{}", page.body);
    assert!(page.body.contains("openai/gpt-4o-mini"));
    assert!(page.body.contains(&name));
    let res = b
        .submit(
            "/ai-agents/usage",
            "/ai-agents/usage/budget",
            &[("monthly_tokens", "50000"), ("monthly_cost_usd", "")],
        )
        .await?;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let saved = b.follow(&res).await?;
    assert!(saved.body.contains("Budget saved."));
    assert!(
        saved.body.contains("value=\"50000\""),
        "the budget persists"
    );
    let res = b
        .submit(
            "/ai-agents/usage",
            "/ai-agents/usage/budget",
            &[("monthly_tokens", "-5"), ("monthly_cost_usd", "")],
        )
        .await?;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let viewer = app.browser();
    viewer.sign_in("vic@acme.io", MEMBER_PASSWORD).await?;
    assert_eq!(
        viewer.get("/ai-agents/usage").await?.status,
        StatusCode::FORBIDDEN
    );
    Ok(())
}

testkit::on_both_backends!(
    the_apis_tab_shows_whether_the_agents_key_is_there,
    the_usage_page_charts_tokens_per_day_and_sums_by_agent_and_model,
    without_script_a_message_posts_and_the_answer_shows_in_its_conversation,
    the_agents_page_lists_the_core_agents_and_the_templates,
    an_agent_created_from_a_template_opens_on_its_page,
    each_tab_saves_and_the_change_persists,
    a_bad_value_is_shown_on_its_tab_and_not_saved,
    a_viewer_sees_an_agent_but_cannot_change_it,
);
