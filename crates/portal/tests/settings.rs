//! The settings pages: profile, members, invitations and API tokens, each a
//! form over the API with inline errors and the same rules.

use anyhow::Result;
use domain::roles::Role;
use reqwest::StatusCode;
use testkit::{Db, TestApp, MEMBER_PASSWORD};

async fn signed_in(
    app: &TestApp,
    tenant: domain::TenantId,
    email: &str,
    role: Role,
) -> Result<testkit::Browser> {
    app.member(tenant, email, role).await?;
    let b = app.browser();
    let res = b.sign_in(email, MEMBER_PASSWORD).await?;
    anyhow::ensure!(
        res.status == StatusCode::SEE_OTHER,
        "sign-in failed: {}",
        res.body
    );
    Ok(b)
}

async fn registering_through_the_form_and_the_emailed_link_creates_the_workspace(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = app.browser();
    let fields = [
        ("name", "Rita"),
        ("email", "rita@shop.io"),
        ("password", "a long enough password"),
        ("tenant_name", "Rita's Shop"),
    ];
    let res = b.submit("/register", "/register", &fields).await?;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert!(res.body.contains("Check your email"));
    assert!(
        b.get("/dashboard")
            .await?
            .location
            .unwrap()
            .starts_with("/login"),
        "not yet"
    );
    let mail = app
        .outbox
        .last_to("rita@shop.io")
        .expect("a confirmation email");
    let at = mail.body.find("/register/confirm?token=").expect("a link");
    let link = mail.body[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let token = link.split("token=").nth(1).unwrap();
    let confirmed = b
        .submit(&link, "/register/confirm", &[("token", token)])
        .await?;
    assert_eq!(
        confirmed.location.as_deref(),
        Some("/dashboard"),
        "{}",
        confirmed.body
    );
    let used_again = b
        .submit(&link, "/register/confirm", &[("token", token)])
        .await?;
    assert_eq!(used_again.status, StatusCode::NOT_FOUND);
    let dash = b.get("/dashboard").await?;
    assert!(dash.body.contains("Rita&#39;s Shop") || dash.body.contains("Rita's Shop"));
    Ok(())
}

async fn invalid_registration_shows_inline_errors_and_keeps_what_was_typed(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let b = app.browser();
    let fields = [
        ("name", "Rita"),
        ("email", "not-an-email"),
        ("password", "short"),
        ("tenant_name", "Rita Shop"),
    ];
    let res = b.submit("/register", "/register", &fields).await?;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("id=\"e-email\""), "inline email error");
    assert!(
        res.body.contains("id=\"e-password\""),
        "inline password error"
    );
    assert!(
        res.body.contains("value=\"Rita Shop\""),
        "typed values kept"
    );
    assert!(
        !res.body.contains("value=\"short\""),
        "passwords are never echoed"
    );
    Ok(())
}

async fn a_personal_token_made_on_the_page_is_shown_once_and_works(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let b = signed_in(&app, acme.id, "mia@acme.io", Role::Member).await?;
    let res = b
        .submit(
            "/settings/tokens",
            "/settings/tokens",
            &[("name", "laptop"), ("scope", "write"), ("kind", "personal")],
        )
        .await?;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(res.headers["cache-control"], "no-store");
    let marker = "id=\"new-secret\">";
    let start = res.body.find(marker).expect("the secret is shown") + marker.len();
    let secret = res.body[start..].split('<').next().unwrap().to_string();
    assert!(secret.starts_with("bzs_"), "{secret}");
    assert_eq!(
        app.get_status("/api/v1/members", &secret).await?,
        StatusCode::OK
    );
    let again = b.get("/settings/tokens").await?;
    assert!(again.body.contains("laptop"));
    assert!(!again.body.contains(&secret), "shown once only");
    Ok(())
}

async fn a_member_cannot_make_a_workspace_token_from_the_page(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let b = signed_in(&app, acme.id, "mia@acme.io", Role::Member).await?;
    let page = b.get("/settings/tokens").await?;
    assert!(
        !page.body.contains("value=\"admin\""),
        "no scope beyond the role is offered"
    );
    let res = b
        .submit(
            "/settings/tokens",
            "/settings/tokens",
            &[("name", "ci"), ("scope", "read"), ("kind", "tenant")],
        )
        .await?;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("`admin`"));
    Ok(())
}

async fn an_admin_invites_from_the_members_page_and_the_invitee_joins_through_the_link(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let admin = signed_in(&app, acme.id, "ada@acme.io", Role::Admin).await?;
    let res = admin
        .submit(
            "/settings/members",
            "/settings/members/invite",
            &[("email", "new@acme.io"), ("role", "viewer")],
        )
        .await?;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("An invitation was sent to new@acme.io"));
    let mail = app
        .outbox
        .last_to("new@acme.io")
        .expect("an invitation email");
    let start = mail
        .body
        .find("/invitations/accept?token=")
        .expect("a link");
    let link: String = mail.body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let invitee = app.browser();
    let page = invitee.get(&link).await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Join Acme"));
    let token = link.split("token=").nth(1).unwrap();
    let joined = invitee
        .submit(
            &link,
            "/invitations/accept",
            &[
                ("token", token),
                ("name", "Newt"),
                ("password", "a long enough password"),
            ],
        )
        .await?;
    assert_eq!(
        joined.location.as_deref(),
        Some("/dashboard"),
        "{}",
        joined.body
    );
    let members = admin.get("/settings/members").await?;
    assert!(members.body.contains("new@acme.io"));
    Ok(())
}

async fn a_viewer_sees_members_without_controls_and_cannot_post_changes(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let viewer = signed_in(&app, acme.id, "vic@acme.io", Role::Viewer).await?;
    let page = viewer.get("/settings/members").await?;
    assert!(page.body.contains("mia@acme.io"));
    assert!(!page.body.contains("Send invitation"));
    let res = viewer
        .submit(
            "/settings/members",
            "/settings/members/invite",
            &[("email", "x@acme.io"), ("role", "admin")],
        )
        .await?;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("`admin` role"));
    assert!(app.outbox.last_to("x@acme.io").is_none());
    Ok(())
}

async fn a_profile_change_is_saved_and_an_email_change_needs_the_password(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let b = signed_in(&app, acme.id, "mia@acme.io", Role::Member).await?;
    let res = b
        .submit(
            "/settings/profile",
            "/settings/profile",
            &[
                ("name", "Mia Q"),
                ("email", "mia@acme.io"),
                ("current_password", ""),
            ],
        )
        .await?;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("Profile saved") && res.body.contains("value=\"Mia Q\""));
    let res = b
        .submit(
            "/settings/profile",
            "/settings/profile",
            &[
                ("name", "Mia Q"),
                ("email", "mia@new.io"),
                ("current_password", ""),
            ],
        )
        .await?;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("id=\"e-current_password\""));
    let res = b
        .submit(
            "/settings/profile",
            "/settings/profile",
            &[
                ("name", "Mia Q"),
                ("email", "mia@new.io"),
                ("current_password", MEMBER_PASSWORD),
            ],
        )
        .await?;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        app.browser()
            .sign_in("mia@new.io", MEMBER_PASSWORD)
            .await?
            .status
            == StatusCode::SEE_OTHER
    );
    Ok(())
}

async fn a_section_not_built_yet_says_what_it_will_hold(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let b = signed_in(&app, acme.id, "mia@acme.io", Role::Member).await?;
    let page = b.get("/crm/contacts").await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Contacts from Zoho CRM"));
    for (path, says) in [
        ("/settings/integrations", "Outgoing webhooks"),
        ("/settings/billing", "invoices will show here"),
    ] {
        let page = b.get(path).await?;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains(says), "{path}");
        assert!(
            page.body.contains("aria-current=\"page\""),
            "{path}: its tab is marked"
        );
    }
    Ok(())
}

async fn the_members_table_sorts_by_a_column_both_ways(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "zed@acme.io", Role::Viewer).await?;
    let b = signed_in(&app, acme.id, "amy@acme.io", Role::Member).await?;
    let order = |body: &str| {
        ["amy@acme.io", "owner@acme.test", "zed@acme.io"]
            .map(|e| body.find(&format!("<td>{e}</td>")).expect(e))
    };
    let asc = b.get("/settings/members?sort=email&dir=asc").await?;
    let [amy, owner, zed] = order(&asc.body);
    assert!(amy < owner && owner < zed);
    assert!(asc
        .body
        .contains("aria-sort=\"ascending\" data-column=\"email\""));
    let header = asc.body.split("data-column=\"email\"").nth(1).unwrap();
    let link = header.split('"').nth(3).unwrap();
    assert!(
        link.contains("sort=email") && link.contains("dir=desc"),
        "the header toggles: {link}"
    );
    let desc = b.get("/settings/members?sort=email&dir=desc").await?;
    let [amy, owner, zed] = order(&desc.body);
    assert!(zed < owner && owner < amy);
    let bogus = b.get("/settings/members?sort=password&dir=up").await?;
    assert_eq!(bogus.status, StatusCode::OK, "an unknown column is ignored");
    Ok(())
}

async fn the_tokens_table_sorts_by_label_both_ways(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let b = signed_in(&app, acme.id, "amy@acme.io", Role::Admin).await?;
    for name in ["beta", "alpha", "gamma"] {
        b.submit(
            "/settings/tokens",
            "/settings/tokens",
            &[("name", name), ("scope", "read"), ("kind", "personal")],
        )
        .await?;
    }
    let order = |body: &str| {
        ["alpha", "beta", "gamma"].map(|n| body.find(&format!("<td>{n}</td>")).expect(n))
    };
    let asc = b.get("/settings/tokens?sort=name&dir=asc").await?;
    let [a, be, g] = order(&asc.body);
    assert!(a < be && be < g);
    assert!(asc
        .body
        .contains("aria-sort=\"ascending\" data-column=\"name\""));
    let desc = b.get("/settings/tokens?sort=name&dir=desc").await?;
    let [a, be, g] = order(&desc.body);
    assert!(g < be && be < a);
    Ok(())
}

testkit::on_both_backends!(
    the_members_table_sorts_by_a_column_both_ways,
    the_tokens_table_sorts_by_label_both_ways,
    registering_through_the_form_and_the_emailed_link_creates_the_workspace,
    invalid_registration_shows_inline_errors_and_keeps_what_was_typed,
    a_personal_token_made_on_the_page_is_shown_once_and_works,
    a_member_cannot_make_a_workspace_token_from_the_page,
    an_admin_invites_from_the_members_page_and_the_invitee_joins_through_the_link,
    a_viewer_sees_members_without_controls_and_cannot_post_changes,
    a_profile_change_is_saved_and_an_email_change_needs_the_password,
    a_section_not_built_yet_says_what_it_will_hold
);
