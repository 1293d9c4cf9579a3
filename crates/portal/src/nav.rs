//! The portal's sections and their pages, at the plan's addresses (its
//! section 4.1), and what each page will hold until its capability lands.

/// One entry of the navigation: a section and its pages.
pub struct Section {
    /// Stable key, to mark the active entry.
    pub key: &'static str,
    /// Where it leads (its first page).
    pub href: &'static str,
    /// Its label.
    pub label: &'static str,
    /// Its pages, shown as tabs when there are several.
    pub pages: &'static [Page],
}

/// One page of a section.
pub struct Page {
    /// Its address.
    pub href: &'static str,
    /// Its label (its tab).
    pub label: &'static str,
    /// For a page not built yet: what it will hold and the first step.
    pub pending: Option<Pending>,
}

/// An honest empty state: what will be here, and the first step towards it.
pub struct Pending {
    /// What the page will hold.
    pub holds: &'static str,
    /// What to do first.
    pub next_step: &'static str,
    /// Where that step is done.
    pub next_href: &'static str,
}

const fn built(href: &'static str, label: &'static str) -> Page {
    Page {
        href,
        label,
        pending: None,
    }
}

const fn pending(
    href: &'static str,
    label: &'static str,
    holds: &'static str,
    next_step: &'static str,
    next_href: &'static str,
) -> Page {
    Page {
        href,
        label,
        pending: Some(Pending {
            holds,
            next_step,
            next_href,
        }),
    }
}

const CONNECT_FIRST: &str = "See the connectors";
const CONNECTORS: &str = "/dashboard/connectors";

/// Every section, in navigation order.
pub const SECTIONS: &[Section] = &[
    Section {
        key: "dashboard",
        href: "/dashboard",
        label: "Dashboard",
        pages: &[built("/dashboard", "Overview")],
    },
    Section {
        key: "agents",
        href: "/ai-agents",
        label: "AI Agents",
        pages: &[
            built("/ai-agents", "Agents"),
            built("/ai-agents/usage", "Usage"),
            built("/ai-agents/byok", "LLM keys"),
        ],
    },
    Section {
        key: "knowledge",
        href: "/knowledge",
        label: "Knowledge",
        pages: &[pending(
            "/knowledge",
            "Documents",
            "The documents your agents answer from, with their indexing status.",
            "Add an LLM provider key, which indexing will use",
            "/ai-agents/byok",
        )],
    },
    Section {
        key: "connectors",
        href: CONNECTORS,
        label: "Connectors",
        pages: &[built(CONNECTORS, "All connectors")],
    },
    Section {
        key: "content",
        href: "/content/pages",
        label: "Content",
        pages: &[
            built("/content/pages", "Pages"),
            built("/content/posts", "Posts"),
            built("/content/media", "Media"),
        ],
    },
    Section {
        key: "crm",
        href: "/crm/contacts",
        label: "CRM",
        pages: &[
            pending(
                "/crm/contacts",
                "Contacts",
                "Contacts from Zoho CRM, to search, create and edit here.",
                CONNECT_FIRST,
                CONNECTORS,
            ),
            pending(
                "/crm/leads",
                "Leads",
                "Leads from Zoho CRM.",
                CONNECT_FIRST,
                CONNECTORS,
            ),
            pending(
                "/crm/deals",
                "Deals",
                "Deals from Zoho CRM, by stage.",
                CONNECT_FIRST,
                CONNECTORS,
            ),
        ],
    },
    Section {
        key: "commerce",
        href: "/ecommerce/products",
        label: "E-commerce",
        pages: &[
            pending(
                "/ecommerce/products",
                "Products",
                "Products of your Shopify or WooCommerce shop.",
                CONNECT_FIRST,
                CONNECTORS,
            ),
            pending(
                "/ecommerce/orders",
                "Orders",
                "Orders of your shop, newest first.",
                CONNECT_FIRST,
                CONNECTORS,
            ),
            pending(
                "/ecommerce/customers",
                "Customers",
                "Customers of your shop.",
                CONNECT_FIRST,
                CONNECTORS,
            ),
        ],
    },
    Section {
        key: "marketing",
        href: "/marketing/campaigns",
        label: "Marketing",
        pages: &[pending(
            "/marketing/campaigns",
            "Campaigns",
            "Your Google Ads and Meta Ads campaigns, their spend and results.",
            CONNECT_FIRST,
            CONNECTORS,
        )],
    },
    Section {
        key: "analytics",
        href: "/analytics",
        label: "Analytics",
        pages: &[pending(
            "/analytics",
            "Traffic",
            "Traffic and conversions from Google Analytics over time, as charts.",
            CONNECT_FIRST,
            CONNECTORS,
        )],
    },
    Section {
        key: "workflows",
        href: "/workflows",
        label: "Workflows",
        pages: &[built("/workflows", "Runs")],
    },
    Section {
        key: "audit",
        href: "/settings/audit-log",
        label: "Audit log",
        pages: &[built("/settings/audit-log", "Audit log")],
    },
    Section {
        key: "settings",
        href: "/settings",
        label: "Settings",
        pages: &[built("/settings", "Profile")],
    },
];

/// Addresses of the earlier navigation, sent on to the plan's.
pub const MOVED: &[(&str, &str)] = &[
    ("/agents", "/ai-agents"),
    ("/connectors", CONNECTORS),
    ("/content", "/content/pages"),
    ("/crm", "/crm/contacts"),
    ("/commerce", "/ecommerce/products"),
    ("/ecommerce", "/ecommerce/products"),
    ("/marketing", "/marketing/campaigns"),
];

/// The section and page at an address.
pub fn page_at(path: &str) -> Option<(&'static Section, &'static Page)> {
    SECTIONS
        .iter()
        .find_map(|s| s.pages.iter().find(|p| p.href == path).map(|p| (s, p)))
}

/// Every page not built yet.
pub fn pending_pages() -> impl Iterator<Item = &'static Page> {
    SECTIONS
        .iter()
        .flat_map(|s| s.pages.iter())
        .filter(|p| p.pending.is_some())
}

/// A connector the platform knows, shown in the catalogue before it can be
/// connected.
pub struct ConnectorEntry {
    /// Its id in addresses (`/dashboard/connectors/{id}`).
    pub id: &'static str,
    /// Its name.
    pub name: &'static str,
    /// What kind of tool it is.
    pub category: &'static str,
    /// What it brings into BizOSaaS.
    pub brings: &'static str,
    /// Where its data shows.
    pub shows_in: &'static str,
}

/// The connectors of the catalogue, in display order.
pub const CONNECTOR_CATALOGUE: &[ConnectorEntry] = &[
    ConnectorEntry {
        id: "wordpress",
        name: "WordPress",
        category: "Website",
        brings: "pages, posts and media",
        shows_in: "/content/pages",
    },
    ConnectorEntry {
        id: "woocommerce",
        name: "WooCommerce",
        category: "E-commerce",
        brings: "products, orders and customers",
        shows_in: "/ecommerce/products",
    },
    ConnectorEntry {
        id: "shopify",
        name: "Shopify",
        category: "E-commerce",
        brings: "products, orders and customers",
        shows_in: "/ecommerce/products",
    },
    ConnectorEntry {
        id: "zoho-crm",
        name: "Zoho CRM",
        category: "CRM",
        brings: "contacts, leads and deals",
        shows_in: "/crm/contacts",
    },
    ConnectorEntry {
        id: "google-ads",
        name: "Google Ads",
        category: "Advertising",
        brings: "campaigns, spend and conversions",
        shows_in: "/marketing/campaigns",
    },
    ConnectorEntry {
        id: "meta-ads",
        name: "Meta Ads",
        category: "Advertising",
        brings: "campaigns, spend and results",
        shows_in: "/marketing/campaigns",
    },
    ConnectorEntry {
        id: "google-analytics",
        name: "Google Analytics",
        category: "Analytics",
        brings: "traffic and conversions",
        shows_in: "/analytics",
    },
];

/// The catalogue entry with this id.
pub fn connector(id: &str) -> Option<&'static ConnectorEntry> {
    CONNECTOR_CATALOGUE.iter().find(|c| c.id == id)
}
