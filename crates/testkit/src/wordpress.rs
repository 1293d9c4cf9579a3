//! The real WordPress that `scripts/services.sh` installs and seeds
//! (300 posts, 120 pages, 100 media items, an application password).

/// Where the test WordPress is and how to sign in to it.
#[derive(Clone, Debug)]
pub struct WordPressSite {
    /// Its address (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The admin's user name.
    pub user: String,
    /// The admin's application password.
    pub app_password: String,
}

/// Posts, pages and media items the services script seeds.
pub const SEEDED: [(&str, usize); 3] = [("posts", 300), ("pages", 120), ("media", 100)];

impl WordPressSite {
    /// The site from the services script's environment; without it the test
    /// fails, it never skips.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: run scripts/services.sh and source its env")
            })
        };
        Self {
            url: var("BIZOSAAS_TEST_WP_URL"),
            user: var("BIZOSAAS_TEST_WP_USER"),
            app_password: var("BIZOSAAS_TEST_WP_APP_PASSWORD"),
        }
    }

    /// The fields a tenant types in to connect it.
    pub fn connect_fields(&self) -> serde_json::Value {
        serde_json::json!({
            "site_url": self.url,
            "username": self.user,
            "application_password": self.app_password,
        })
    }

    /// A direct call of its REST API as the admin (to check what a test did).
    pub async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        Ok(reqwest::Client::new()
            .get(format!("{}/wp-json/wp/v2/{path}", self.url))
            .basic_auth(&self.user, Some(&self.app_password))
            .send()
            .await?)
    }
}

impl WordPressSite {
    fn call(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}/wp-json/wp/v2/{path}", self.url))
            .basic_auth(&self.user, Some(&self.app_password))
    }

    /// Creates a post, page or media item directly (not through the platform).
    pub async fn create(
        &self,
        resource: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let resp = self
            .call(reqwest::Method::POST, resource)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            resp.status().is_success(),
            "creating in WordPress: {}",
            resp.text().await?
        );
        Ok(resp.json().await?)
    }

    /// Changes an item directly.
    pub async fn update(
        &self,
        resource: &str,
        id: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<()> {
        let resp = self
            .call(reqwest::Method::POST, &format!("{resource}/{id}"))
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            resp.status().is_success(),
            "updating in WordPress: {}",
            resp.text().await?
        );
        Ok(())
    }

    /// Deletes an item directly, for good.
    pub async fn delete(&self, resource: &str, id: &str) -> anyhow::Result<()> {
        let resp = self
            .call(
                reqwest::Method::DELETE,
                &format!("{resource}/{id}?force=true"),
            )
            .send()
            .await?;
        anyhow::ensure!(
            resp.status().is_success(),
            "deleting in WordPress: {}",
            resp.text().await?
        );
        Ok(())
    }

    /// A new application password of the admin's: `(uuid, password)`, to
    /// revoke in a test without touching the one every test shares.
    pub async fn new_app_password(&self, name: &str) -> anyhow::Result<(String, String)> {
        let v = self
            .create(
                "users/me/application-passwords",
                // WordPress wants every name unique; tests run side by side.
                serde_json::json!({ "name": format!("{name} {}", uuid::Uuid::now_v7()) }),
            )
            .await?;
        Ok((
            v["uuid"].as_str().unwrap_or_default().to_string(),
            v["password"].as_str().unwrap_or_default().to_string(),
        ))
    }

    /// Revokes an application password made by [`Self::new_app_password`].
    pub async fn revoke_app_password(&self, uuid: &str) -> anyhow::Result<()> {
        let resp = self
            .call(
                reqwest::Method::DELETE,
                &format!("users/me/application-passwords/{uuid}"),
            )
            .send()
            .await?;
        anyhow::ensure!(
            resp.status().is_success(),
            "revoking: {}",
            resp.text().await?
        );
        Ok(())
    }
}
