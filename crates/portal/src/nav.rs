//! The portal's sections: the navigation, and what each section will hold
//! until its capability lands.

/// One entry of the navigation.
pub struct Section {
    /// Stable key, to mark the active entry.
    pub key: &'static str,
    /// Where it leads.
    pub href: &'static str,
    /// Its label.
    pub label: &'static str,
    /// For a section not built yet: what it will hold and how to enable it.
    pub pending: Option<Pending>,
}

/// An honest empty state: what will be here, and the first step towards it.
pub struct Pending {
    /// What the section will hold.
    pub holds: &'static str,
    /// What to do first.
    pub next_step: &'static str,
    /// Where that step is done.
    pub next_href: &'static str,
}

const fn pending(
    holds: &'static str,
    next_step: &'static str,
    next_href: &'static str,
) -> Option<Pending> {
    Some(Pending {
        holds,
        next_step,
        next_href,
    })
}

/// Every section, in navigation order.
pub const SECTIONS: &[Section] = &[
    Section { key: "dashboard", href: "/dashboard", label: "Dashboard", pending: None },
    Section { key: "agents", href: "/agents", label: "AI Agents", pending: pending(
        "Your AI agents: their instructions, the documents they know, the connectors they act through, and the LLM keys (BYOK) they run on.",
        "Add an LLM provider key first.", "/ai-agents/byok") },
    Section { key: "knowledge", href: "/knowledge", label: "Knowledge", pending: pending(
        "The documents your agents answer from, with their indexing status.",
        "Upload documents here once knowledge indexing is enabled.", "/dashboard") },
    Section { key: "connectors", href: "/connectors", label: "Connectors", pending: pending(
        "The tools you already run — WordPress, Zoho CRM, Shopify, WooCommerce, Google and Meta Ads, Google Analytics — with their sync status.",
        "Connectors are set up by an admin of your workspace.", "/settings/members") },
    Section { key: "content", href: "/content", label: "Content", pending: pending(
        "Pages, posts and media of your website.",
        "Connect WordPress to see your pages here.", "/connectors") },
    Section { key: "crm", href: "/crm", label: "CRM", pending: pending(
        "Contacts, leads and deals from your CRM.",
        "Connect Zoho CRM to see your contacts here.", "/connectors") },
    Section { key: "commerce", href: "/commerce", label: "E-commerce", pending: pending(
        "Products, orders and customers of your shop.",
        "Connect Shopify or WooCommerce to see your orders here.", "/connectors") },
    Section { key: "marketing", href: "/marketing", label: "Marketing", pending: pending(
        "Your ad campaigns, their spend and results.",
        "Connect Google Ads or Meta Ads to see your campaigns here.", "/connectors") },
    Section { key: "analytics", href: "/analytics", label: "Analytics", pending: pending(
        "Traffic and conversions over time, as charts.",
        "Connect Google Analytics to see your traffic here.", "/connectors") },
    Section { key: "workflows", href: "/workflows", label: "Workflows", pending: None },
    Section { key: "audit", href: "/settings/audit-log", label: "Audit log", pending: None },
    Section { key: "settings", href: "/settings/profile", label: "Settings", pending: None },
];

/// The section at `key`, if it is one.
pub fn section(key: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.key == key)
}
