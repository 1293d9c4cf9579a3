//! The plan's portal addresses (its section 4.1): each answers a signed-in
//! member with its page, and sends everyone else to sign in.

use anyhow::Result;
use domain::roles::Role;
use reqwest::StatusCode;
use testkit::{Db, TestApp, MEMBER_PASSWORD, PLAN_ROUTES};

async fn member_browser(app: &TestApp, role: Role) -> Result<testkit::Browser> {
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", role).await?;
    let b = app.browser();
    let signed = b.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    anyhow::ensure!(signed.status == StatusCode::SEE_OTHER, "{}", signed.body);
    Ok(b)
}

async fn every_plan_route_answers_a_signed_in_member_with_its_page(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    // Admins see the key page; the others show to any member.
    let b = member_browser(&app, Role::Admin).await?;
    for path in PLAN_ROUTES {
        let page = b.get(path).await?;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        assert!(page.body.contains("<h1>"), "{path} renders a page");
    }
    Ok(())
}

async fn every_plan_route_sends_a_visitor_to_sign_in_and_back(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = app.browser();
    for path in PLAN_ROUTES
        .iter()
        .chain(&["/ai-agents/01890000-0000-7000-8000-000000000000"])
    {
        let page = b.get(path).await?;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        let to = page.location.unwrap_or_default();
        assert!(to.starts_with("/login?next=%2F"), "{path} → {to}");
    }
    Ok(())
}

async fn a_page_not_built_yet_says_what_it_will_hold_and_the_first_step(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = member_browser(&app, Role::Viewer).await?;
    let page = b.get("/crm/leads").await?;
    assert!(page.body.contains("data-pending=\"/crm/leads\""));
    assert!(page.body.contains("Leads from Zoho CRM"));
    // Its section's other pages are tabs, this one marked current.
    assert!(page
        .body
        .contains(r#"<a href="/crm/leads" aria-current="page">Leads</a>"#));
    assert!(page.body.contains(r#"<a href="/crm/deals">Deals</a>"#));
    assert!(page.body.contains(r#"href="/dashboard/connectors""#));
    Ok(())
}

async fn the_connector_catalogue_links_each_connector_and_unknown_ones_are_not_found(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = member_browser(&app, Role::Member).await?;
    let list = b.get("/dashboard/connectors").await?;
    for id in ["wordpress", "shopify", "zoho-crm"] {
        assert!(
            list.body
                .contains(&format!("href=\"/dashboard/connectors/{id}\"")),
            "{id}"
        );
    }
    assert_eq!(
        b.get("/dashboard/connectors/nope").await?.status,
        StatusCode::NOT_FOUND
    );
    Ok(())
}

async fn an_agent_that_does_not_exist_is_not_found(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = member_browser(&app, Role::Member).await?;
    let page = b
        .get("/ai-agents/01890000-0000-7000-8000-000000000000")
        .await?;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("Page not found"));
    Ok(())
}

async fn the_earlier_addresses_move_permanently_to_the_plan_ones(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = app.browser();
    for (from, to) in [
        ("/agents", "/ai-agents"),
        ("/connectors", "/dashboard/connectors"),
        ("/content", "/content/pages"),
        ("/crm", "/crm/contacts"),
        ("/commerce", "/ecommerce/products"),
        ("/marketing", "/marketing/campaigns"),
    ] {
        let page = b.get(from).await?;
        assert_eq!(page.status, StatusCode::PERMANENT_REDIRECT, "{from}");
        assert_eq!(page.location.as_deref(), Some(to), "{from}");
    }
    Ok(())
}

testkit::on_both_backends!(
    every_plan_route_answers_a_signed_in_member_with_its_page,
    every_plan_route_sends_a_visitor_to_sign_in_and_back,
    a_page_not_built_yet_says_what_it_will_hold_and_the_first_step,
    the_connector_catalogue_links_each_connector_and_unknown_ones_are_not_found,
    an_agent_that_does_not_exist_is_not_found,
    the_earlier_addresses_move_permanently_to_the_plan_ones,
);
