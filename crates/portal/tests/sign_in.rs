//! Signing in and out of the portal: cookies, CSRF, redirects back.

use anyhow::Result;
use domain::roles::Role;
use reqwest::StatusCode;
use testkit::{Db, TestApp, MEMBER_PASSWORD};

async fn the_root_sends_visitors_to_sign_in_and_members_to_the_dashboard(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let b = app.browser();
    assert_eq!(b.get("/").await?.location.as_deref(), Some("/login"));
    let signed = b.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert_eq!(signed.location.as_deref(), Some("/dashboard"));
    assert_eq!(b.get("/").await?.location.as_deref(), Some("/dashboard"));
    let dash = b.get("/dashboard").await?;
    assert_eq!(dash.status, StatusCode::OK);
    assert!(dash.body.contains("Acme") && dash.body.contains("Members"));
    Ok(())
}

fn session_cookie(page: &testkit::Page) -> String {
    page.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("bzs_session="))
        .expect("a session cookie")
        .to_string()
}

async fn the_session_cookie_is_http_only_and_same_site_lax(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let signed = app
        .browser()
        .sign_in("mia@acme.io", MEMBER_PASSWORD)
        .await?;
    let cookie = session_cookie(&signed);
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    Ok(())
}

/// The value of a cookie set by a response, and the whole `Set-Cookie` line.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|line| {
            let value = line[name.len() + 1..].split(';').next().unwrap_or("");
            (value.to_string(), line.to_string())
        })
}

/// The CSRF token in a page's forms.
fn form_csrf(body: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = body.find(marker).expect("a form") + marker.len();
    body[start..].split('"').next().unwrap_or("").to_string()
}

async fn over_https_the_cookies_are_secure_and_the_csrf_cookie_is_host_only(db: Db) -> Result<()> {
    let config = app::Settings {
        public_url: "https://portal.example".into(),
        ..Default::default()
    };
    let app = TestApp::spawn_with(testkit::TestDb::create(db).await?, config).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    // A browser keeps Secure cookies off plain http, so this client sends
    // them by hand, as a browser behind the TLS proxy would.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let form = client.get(app.url("/login")).send().await?;
    let (csrf_cookie, line) = set_cookie(&form, "__Host-bzs_csrf").expect("a __Host- CSRF cookie");
    assert!(line.contains("Secure") && line.contains("Path=/"), "{line}");
    assert!(!line.to_ascii_lowercase().contains("domain="), "{line}");
    let token = form_csrf(&form.text().await?);
    let signed = client
        .post(app.url("/login"))
        .header("cookie", format!("__Host-bzs_csrf={csrf_cookie}"))
        .form(&[
            ("csrf", token.as_str()),
            ("email", "mia@acme.io"),
            ("password", MEMBER_PASSWORD),
        ])
        .send()
        .await?;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let (_, session) = set_cookie(&signed, "bzs_session").expect("a session cookie");
    assert!(session.contains("Secure"), "{session}");
    Ok(())
}

async fn a_csrf_cookie_and_token_planted_by_someone_else_do_not_pass_with_a_victims_session(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let victim = app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    // The attacker's own pair, valid for the attacker (signed out).
    let theirs = client.get(app.url("/login")).send().await?;
    let (planted, _) = set_cookie(&theirs, "bzs_csrf").expect("a CSRF cookie");
    let their_token = form_csrf(&theirs.text().await?);
    for token in [their_token.as_str(), planted.as_str()] {
        let res = client
            .post(app.url("/logout-all"))
            .header(
                "cookie",
                format!("bzs_csrf={planted}; bzs_session={victim}"),
            )
            .form(&[("csrf", token)])
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "token {token}");
    }
    // The victim is still signed in.
    assert_eq!(app.get_status("/api/v1/me", &victim).await?, StatusCode::OK);
    Ok(())
}

async fn a_form_without_its_csrf_token_is_refused_and_signs_nobody_in(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let b = app.browser();
    b.get("/login").await?;
    let res = b
        .post(
            "/login",
            &[("email", "mia@acme.io"), ("password", MEMBER_PASSWORD)],
        )
        .await?;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("This form has expired"));
    let forged = b
        .post(
            "/login",
            &[
                ("csrf", "forged-token"),
                ("email", "mia@acme.io"),
                ("password", MEMBER_PASSWORD),
            ],
        )
        .await?;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/dashboard").await?.location.as_deref(),
        Some("/login?next=%2Fdashboard")
    );
    Ok(())
}

async fn a_wrong_password_shows_the_form_again_keeping_the_email(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let res = app
        .browser()
        .sign_in("mia@acme.io", "not the password")
        .await?;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.body.contains("email or password is wrong"));
    assert!(res.body.contains("value=\"mia@acme.io\""));
    let unknown = app
        .browser()
        .sign_in("nobody@acme.io", "not the password")
        .await?;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.body.contains("email or password is wrong"));
    Ok(())
}

async fn an_ended_session_leads_to_sign_in_and_back_to_the_page(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let b = app.browser();
    let res = b.get("/settings/members").await?;
    assert_eq!(
        res.location.as_deref(),
        Some("/login?next=%2Fsettings%2Fmembers")
    );
    let login = b.get("/login?next=%2Fsettings%2Fmembers").await?;
    assert!(login.body.contains("value=\"/settings/members\""));
    let csrf = login.csrf()?;
    let signed = b
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", "mia@acme.io"),
                ("password", MEMBER_PASSWORD),
                ("next", "/settings/members"),
            ],
        )
        .await?;
    assert_eq!(signed.location.as_deref(), Some("/settings/members"));
    Ok(())
}

async fn sign_in_never_redirects_to_another_site(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let b = app.browser();
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\nSet-Cookie: x=y",
        "/\x0b/evil.example",
        "\t//evil.example",
        " //evil.example",
        "/%2F/evil.example",
        "/%2f/evil.example",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
        "javascript:alert(1)",
        "",
    ] {
        // Each sign-in starts a new session, and forms are bound to it.
        let csrf = b.get("/login").await?.csrf()?;
        let res = b
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("email", "mia@acme.io"),
                    ("password", MEMBER_PASSWORD),
                    ("next", next),
                ],
            )
            .await?;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "next={next:?}");
        assert_eq!(res.location.as_deref(), Some("/dashboard"), "next={next:?}");
    }
    Ok(())
}

async fn a_forged_session_cookie_leads_to_sign_in(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let res = app
        .client
        .get(app.url("/dashboard"))
        .header(
            "cookie",
            "bzs_session=bzss_forgedforgedforgedforgedforgedforged",
        )
        .send()
        .await?;
    assert_eq!(res.url().path(), "/login", "followed to {}", res.url());
    Ok(())
}

async fn signing_out_ends_the_session_on_the_server(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "mia@acme.io", Role::Member).await?;
    let b = app.browser();
    let signed = b.sign_in("mia@acme.io", MEMBER_PASSWORD).await?;
    let cookie = session_cookie(&signed);
    let session = cookie
        .trim_start_matches("bzs_session=")
        .split(';')
        .next()
        .unwrap();
    assert_eq!(app.get_status("/api/v1/me", session).await?, StatusCode::OK);
    let out = b.submit("/dashboard", "/logout", &[]).await?;
    assert_eq!(out.location.as_deref(), Some("/login"));
    assert!(b
        .get("/dashboard")
        .await?
        .location
        .unwrap()
        .starts_with("/login"));
    assert_eq!(
        app.get_status("/api/v1/me", session).await?,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

async fn pages_carry_a_strict_content_security_policy(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let page = app.browser().get("/login").await?;
    let csp = page.headers["content-security-policy"].to_str()?;
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert!(
        !page.headers.contains_key("strict-transport-security"),
        "no HSTS over plain http"
    );
    assert!(!page.body.contains("<script>"), "no inline script");
    Ok(())
}

async fn an_unknown_page_is_a_404_page_and_an_unknown_api_path_a_problem(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let page = app.browser().get("/no/such/page").await?;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.headers["content-type"]
        .to_str()?
        .starts_with("text/html"));
    assert!(page.body.contains("Page not found"));
    let api = app.browser().get("/api/v1/nothing").await?;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert_eq!(api.headers["content-type"], "application/problem+json");
    Ok(())
}

testkit::on_both_backends!(
    the_root_sends_visitors_to_sign_in_and_members_to_the_dashboard,
    the_session_cookie_is_http_only_and_same_site_lax,
    over_https_the_cookies_are_secure_and_the_csrf_cookie_is_host_only,
    a_csrf_cookie_and_token_planted_by_someone_else_do_not_pass_with_a_victims_session,
    a_form_without_its_csrf_token_is_refused_and_signs_nobody_in,
    a_wrong_password_shows_the_form_again_keeping_the_email,
    an_ended_session_leads_to_sign_in_and_back_to_the_page,
    sign_in_never_redirects_to_another_site,
    a_forged_session_cookie_leads_to_sign_in,
    signing_out_ends_the_session_on_the_server,
    pages_carry_a_strict_content_security_policy,
    an_unknown_page_is_a_404_page_and_an_unknown_api_path_a_problem
);
