//! The catalogue of agent templates, shipped as data
//! (`catalog/agents.json`): the seven core agents every tenant starts with,
//! and more by business function, from which a tenant creates its own.

use serde::Deserialize;
use std::sync::OnceLock;

/// One template.
#[derive(Clone, Debug, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Stable id (`content-writer`).
    pub id: String,
    /// Name for people.
    pub name: String,
    /// The business function it serves (Marketing, Sales…).
    pub function: String,
    /// Whether every tenant gets it from the start.
    pub core: bool,
    /// What it does, in a sentence.
    pub description: String,
    /// Its system prompt.
    pub system_prompt: String,
    /// Its sampling temperature.
    pub temperature: f32,
    /// The tools it starts with.
    pub tools: Vec<String>,
}

/// Every template, in catalogue order.
pub fn templates() -> &'static [Template] {
    static ALL: OnceLock<Vec<Template>> = OnceLock::new();
    ALL.get_or_init(|| {
        serde_json::from_str(include_str!("../catalog/agents.json"))
            .expect("the shipped catalogue is valid (see its test)")
    })
}

/// The template with this id.
pub fn template(id: &str) -> Option<&'static Template> {
    templates().iter().find(|t| t.id == id)
}

/// The seven core agents.
pub fn core() -> impl Iterator<Item = &'static Template> {
    templates().iter().filter(|t| t.core)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_the_seven_core_agents_and_thirty_more() {
        let core: Vec<_> = core().map(|t| t.id.as_str()).collect();
        assert_eq!(
            core,
            [
                "content-writer",
                "seo-analyst",
                "crm-assistant",
                "ecommerce-manager",
                "marketing-strategist",
                "analytics-reporter",
                "customer-support"
            ]
        );
        assert!(templates().len() >= 37);
    }

    #[test]
    fn every_template_is_usable() {
        let mut ids = std::collections::HashSet::new();
        for t in templates() {
            assert!(ids.insert(&t.id), "{} twice", t.id);
            assert!(t.system_prompt.len() > 80, "{} has a real prompt", t.id);
            assert!((0.0..=2.0).contains(&t.temperature));
            for tool in &t.tools {
                assert!(
                    crate::tools::find(tool).is_some(),
                    "{}: no tool {tool}",
                    t.id
                );
            }
        }
    }
}
