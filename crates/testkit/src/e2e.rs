//! Browser tests: Debian's headless Chromium driven over WebDriver
//! (`chromedriver`), each test with a fresh profile. Screenshots go to
//! `target/e2e/` under the workspace, to be looked at.
//!
//! Chromium and its driver come from `scripts/services.sh`; without them a
//! browser test fails, it never skips.

use anyhow::Context;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// Chromium flags that work on these machines.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// A headless Chromium under test control.
pub struct Chrome {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    base: String,
}

/// Where screenshots are saved: `<workspace>/target/e2e`.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e")
}

fn find(names: &[&str]) -> anyhow::Result<PathBuf> {
    for n in names {
        for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
            let p = PathBuf::from(dir).join(n);
            if p.exists() {
                return Ok(p);
            }
        }
    }
    anyhow::bail!(
        "{} not found: run scripts/services.sh (it installs chromium and chromium-driver)",
        names.join(" or ")
    )
}

/// The browser console log (chromedriver's `goog:loggingPrefs`).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

/// Chromium's emulated network conditions (chromedriver extension).
#[derive(Debug)]
struct NetworkConditions {
    offline: bool,
}

impl WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/chromium/network_conditions",
            session.unwrap_or_default()
        ))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "network_conditions": {
            "offline": self.offline, "latency": 0, "download_throughput": -1, "upload_throughput": -1,
        }});
        (http::Method::POST, Some(body.to_string()))
    }
}

impl Chrome {
    /// Cuts the browser off the network, or reconnects it.
    pub async fn set_offline(&self, offline: bool) -> anyhow::Result<()> {
        self.client.issue_cmd(NetworkConditions { offline }).await?;
        Ok(())
    }

    /// Starts chromedriver and a browser session against the app at `base`,
    /// with a desktop-sized window.
    pub async fn start(base: &str) -> anyhow::Result<Self> {
        // Fails harmlessly when a provider is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let chromium = find(&["chromium", "chromium-browser"])?;
        let driver_bin = find(&["chromedriver"])?;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting chromedriver")?;
        let profile = tempfile::tempdir()?;
        let mut args: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push("--window-size=1280,900".into());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::rustls()?
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Ok(Self {
                        client,
                        driver,
                        _profile: profile,
                        base: base.to_string(),
                    })
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        anyhow::bail!("chromedriver did not start a session: {last:?}")
    }

    /// Opens a path of the app.
    pub async fn goto(&self, path: &str) -> anyhow::Result<()> {
        self.client.goto(&format!("{}{path}", self.base)).await?;
        Ok(())
    }

    /// The path of the current page.
    pub async fn path(&self) -> anyhow::Result<String> {
        let url = self.client.current_url().await?;
        Ok(match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        })
    }

    /// Fills a form field by its `name`.
    pub async fn fill(&self, name: &str, value: &str) -> anyhow::Result<()> {
        let el = self
            .client
            .find(Locator::Css(&format!("[name=\"{name}\"]")))
            .await?;
        el.clear().await?;
        el.send_keys(value).await?;
        Ok(())
    }

    /// Clicks the first element matching a CSS selector.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.client.find(Locator::Css(css)).await?.click().await?;
        Ok(())
    }

    /// Signs in through the login form.
    pub async fn sign_in(&self, email: &str, password: &str) -> anyhow::Result<()> {
        self.goto("/login").await?;
        self.fill("email", email).await?;
        self.fill("password", password).await?;
        self.click("button[type=submit]").await?;
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_url(&url::Url::parse(&format!("{}/dashboard", self.base))?)
            .await?;
        Ok(())
    }

    /// The text of the first element matching a CSS selector.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.client.find(Locator::Css(css)).await?.text().await?)
    }

    /// The text of the first element matching a CSS selector, waiting up to
    /// 5 s for it to appear (after a click that loads a page).
    pub async fn wait_text(&self, css: &str) -> anyhow::Result<String> {
        let el = self
            .client
            .wait()
            .at_most(Duration::from_secs(5))
            .for_element(Locator::Css(css))
            .await?;
        Ok(el.text().await?)
    }

    /// Saves a screenshot as `target/e2e/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let png = self.client.screenshot().await?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Console messages at level SEVERE since the last call.
    pub async fn console_errors(&self) -> anyhow::Result<Vec<String>> {
        let log: Value = self.client.issue_cmd(BrowserLog).await?;
        Ok(log
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Resizes the window (e.g. 375 wide for a phone).
    pub async fn resize(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.client.set_window_size(width, height).await?;
        Ok(())
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) -> anyhow::Result<()> {
        self.client.close().await?;
        let _ = self.driver.kill().await;
        Ok(())
    }
}
