//! What a connector declares and what it returns.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

/// A connector's description: who it talks to, how it signs in, what it has.
#[derive(Debug, Serialize)]
pub struct Spec {
    /// Stable id, used in URLs (`wordpress`).
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Business area.
    pub category: Category,
    /// One line on what it connects.
    pub description: &'static str,
    /// How a tenant connects it.
    pub auth: AuthKind,
    /// Its resources.
    pub resources: &'static [ResourceSpec],
}

impl Spec {
    /// The resource called `name`.
    pub fn resource(&self, name: &str) -> Option<&'static ResourceSpec> {
        self.resources.iter().find(|r| r.name == name)
    }
}

/// Business area of a connector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Websites and content.
    Cms,
    /// Customer relationships.
    Crm,
    /// Shops.
    Ecommerce,
    /// Advertising and email marketing.
    Marketing,
    /// Web analytics.
    Analytics,
    /// Team messaging.
    Messaging,
}

/// How a connection is made.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuthKind {
    /// The tenant types these fields in; secret ones go to the secret store.
    Fields {
        /// The fields.
        fields: &'static [Field],
    },
}

/// A field of a key-based connection.
#[derive(Debug, Serialize)]
pub struct Field {
    /// Name in the request body.
    pub name: &'static str,
    /// Label in the portal.
    pub label: &'static str,
    /// What it holds.
    pub kind: FieldKind,
    /// Kept in the secret store, never shown again.
    pub secret: bool,
    /// A hint shown under the field.
    pub help: &'static str,
}

/// What a field holds (validated before anything is called).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// An http(s) URL.
    Url,
    /// A line of text.
    Text,
    /// A password or key.
    Password,
}

/// A kind of record a connector has.
#[derive(Debug, Serialize)]
pub struct ResourceSpec {
    /// Name in URLs (`posts`).
    pub name: &'static str,
    /// Display name.
    pub label: &'static str,
    /// Which changes the provider allows.
    pub writes: Writes,
    /// Whether the provider can list what changed since a time.
    pub incremental: bool,
}

/// Which changes a resource allows.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Writes {
    /// Create.
    pub create: bool,
    /// Update.
    pub update: bool,
    /// Delete.
    pub delete: bool,
}

impl Writes {
    /// Every change.
    pub const ALL: Self = Self {
        create: true,
        update: true,
        delete: true,
    };
}

/// One record as the provider has it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    /// The provider's id.
    pub external_id: String,
    /// What lists show first (a title, a name).
    pub title: String,
    /// The provider's status (`publish`, `draft`), if it has one.
    pub status: Option<String>,
    /// When it last changed at the provider.
    pub updated_at: Option<DateTime<Utc>>,
    /// The typed fields the portal's tabs show.
    pub fields: Map<String, Value>,
    /// The provider's JSON as it came.
    pub raw: Value,
}

/// A page of a listing.
#[derive(Debug, Default)]
pub struct Page {
    /// Its records.
    pub records: Vec<Record>,
    /// Where the next page starts; `None` on the last.
    pub next: Option<String>,
    /// Records in the whole listing, when the provider says.
    pub total: Option<u64>,
}

/// Which page to list.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    /// From a previous page's `next`; `None` for the first.
    pub cursor: Option<String>,
    /// Only records changed after this time.
    pub updated_since: Option<DateTime<Utc>>,
    /// Records per page wanted (the connector caps it at the provider's limit).
    pub page_size: Option<u32>,
}
