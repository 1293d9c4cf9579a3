//! A cookie-keeping HTTP client that reads pages the way a browser does, for
//! tests of the portal's forms without a real browser.

use anyhow::Context;
use reqwest::{Client, StatusCode};

/// A page as received.
#[derive(Debug)]
pub struct Page {
    /// Status.
    pub status: StatusCode,
    /// Where a redirect points.
    pub location: Option<String>,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// The HTML.
    pub body: String,
}

impl Page {
    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> anyhow::Result<String> {
        let marker = "name=\"csrf\" value=\"";
        let start = self
            .body
            .find(marker)
            .context("the page has no form with a CSRF token")?
            + marker.len();
        let end = self.body[start..]
            .find('"')
            .context("unterminated CSRF value")?;
        Ok(self.body[start..start + end].to_string())
    }
}

/// A browser-like client: keeps cookies, does not follow redirects (tests
/// look at them).
pub struct Browser {
    client: Client,
    base: String,
}

impl Browser {
    /// A fresh client with no cookies.
    pub fn new(base: &str) -> Self {
        Self {
            client: Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client builds"),
            base: base.to_string(),
        }
    }

    async fn page(res: reqwest::Response) -> anyhow::Result<Page> {
        let status = res.status();
        let headers = res.headers().clone();
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Page {
            status,
            location,
            headers,
            body: res.text().await?,
        })
    }

    /// GETs a page.
    pub async fn get(&self, path: &str) -> anyhow::Result<Page> {
        Self::page(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await?,
        )
        .await
    }

    /// GETs an absolute URL (another server, such as an identity provider).
    pub async fn get_url(&self, url: &str) -> anyhow::Result<Page> {
        Self::page(self.client.get(url).send().await?).await
    }

    /// Follows a redirect to wherever it points (relative paths stay here).
    pub async fn follow(&self, page: &Page) -> anyhow::Result<Page> {
        let to = page.location.as_deref().context("not a redirect")?;
        if to.starts_with("http") {
            self.get_url(to).await
        } else {
            self.get(to).await
        }
    }

    /// POSTs a form as is (no CSRF token added).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<Page> {
        Self::page(
            self.client
                .post(format!("{}{path}", self.base))
                .form(fields)
                .send()
                .await?,
        )
        .await
    }

    /// Opens `page`, then submits a form to `action` with the page's CSRF
    /// token and `fields`, as a person filling it in would.
    pub async fn submit(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<Page> {
        let csrf = self.get(page).await?.csrf()?;
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    /// Opens `page`, then uploads a file to `action` as a multipart form
    /// with the page's CSRF token and `fields`.
    pub async fn upload(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, Vec<u8>),
    ) -> anyhow::Result<Page> {
        let csrf = self.get(page).await?.csrf()?;
        let mut form = reqwest::multipart::Form::new().text("csrf", csrf);
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let (name, mime, bytes) = file;
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str(mime)?,
        );
        Self::page(
            self.client
                .post(format!("{}{action}", self.base))
                .multipart(form)
                .send()
                .await?,
        )
        .await
    }

    /// Signs in through the login form.
    pub async fn sign_in(&self, email: &str, password: &str) -> anyhow::Result<Page> {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }
}

/// Every address of the plan's portal (its section 4.1) a member can open;
/// the agent detail needs an agent, which no workspace has yet.
pub const PLAN_ROUTES: &[&str] = &[
    "/dashboard",
    "/ai-agents",
    "/ai-agents/byok",
    "/dashboard/connectors",
    "/dashboard/connectors/wordpress",
    "/content/pages",
    "/content/posts",
    "/content/media",
    "/crm/contacts",
    "/crm/leads",
    "/crm/deals",
    "/ecommerce/products",
    "/ecommerce/orders",
    "/ecommerce/customers",
    "/marketing/campaigns",
    "/analytics",
    "/settings",
    "/settings/integrations",
    "/settings/billing",
];
