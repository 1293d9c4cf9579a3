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
