//! The audit log: one row per change, written with the change.

use crate::ids::{AuditId, TenantId, TokenId, UserId};
use crate::tenancy::Scoped;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a request came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    /// Client IP address.
    pub ip: Option<String>,
    /// The `User-Agent` header, cut to a sane length.
    pub user_agent: Option<String>,
}

/// An entry about to be written.
#[derive(Clone, Debug)]
pub struct NewAuditEntry {
    /// Verb in `resource.verb` form, e.g. `api_token.create`.
    pub action: String,
    /// Kind of resource changed, e.g. `api_token`.
    pub resource_type: String,
    /// Its id, when it has one.
    pub resource_id: Option<String>,
    /// Extra non-secret facts about the change.
    pub metadata: serde_json::Value,
    /// Request origin.
    pub origin: RequestOrigin,
}

/// A stored audit entry.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Entry id (UUIDv7).
    pub id: AuditId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The user who acted, when a user did.
    pub user_id: Option<UserId>,
    /// The API token that acted, when one did.
    pub token_id: Option<TokenId>,
    /// What was done.
    pub action: String,
    /// Kind of resource.
    pub resource_type: String,
    /// Resource id.
    pub resource_id: Option<String>,
    /// Extra facts, kept as the JSON text that was stored: a listing passes
    /// it through instead of parsing and re-serializing it.
    #[schema(value_type = Object)]
    pub metadata: Box<serde_json::value::RawValue>,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// When (UTC).
    pub created_at: DateTime<Utc>,
}

/// Filters of the audit log listing.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Exact action.
    pub action: Option<String>,
    /// Exact resource type.
    pub resource_type: Option<String>,
    /// Entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub until: Option<DateTime<Utc>>,
}

impl NewAuditEntry {
    /// An entry for `action` on a resource.
    pub fn new(action: &str, resource_type: &str, resource_id: Option<String>) -> Self {
        Self {
            action: action.to_string(),
            resource_type: resource_type.to_string(),
            resource_id,
            metadata: serde_json::Value::Object(Default::default()),
            origin: RequestOrigin::default(),
        }
    }
    /// Adds metadata.
    pub fn with_metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = metadata;
        self
    }
    /// Adds the request origin.
    pub fn from_origin(mut self, origin: RequestOrigin) -> Self {
        self.origin = origin;
        self
    }
    /// The stored form, stamped now.
    pub fn into_entry(self, scope: &impl Scoped) -> AuditEntry {
        AuditEntry {
            id: AuditId::new(),
            tenant_id: scope.tenant(),
            user_id: scope.actor().user_id(),
            token_id: scope.actor().token_id(),
            action: self.action,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            metadata: serde_json::value::to_raw_value(&self.metadata)
                .expect("a serde_json::Value always serializes"),
            ip_address: self.origin.ip,
            user_agent: self.origin.user_agent,
            created_at: Utc::now(),
        }
    }
}
