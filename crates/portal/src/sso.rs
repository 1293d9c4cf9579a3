//! Single sign-on routes (the flow itself lives in `auth::sso`).

use std::sync::Arc;

/// A provider button on the sign-in page.
pub struct ProviderLink {
    /// Path segment: `/auth/sso/{id}`.
    pub id: String,
    /// Button text.
    pub label: String,
}

/// The configured providers; those not configured are absent.
#[derive(Clone, Default)]
pub struct SsoProviders {
    links: Arc<Vec<(String, String)>>,
}

impl SsoProviders {
    /// Buttons for the sign-in page.
    pub fn links(&self) -> Vec<ProviderLink> {
        self.links
            .iter()
            .map(|(id, label)| ProviderLink {
                id: id.clone(),
                label: label.clone(),
            })
            .collect()
    }
}
