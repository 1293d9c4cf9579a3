//! Typed identifiers. All are UUIDv7, so they sort by creation time.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Wraps an id read back from storage.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A tenant: one business using the platform.
    TenantId
);
id_type!(
    /// A person with an account.
    UserId
);
id_type!(
    /// An API token.
    TokenId
);
id_type!(
    /// One audit log entry.
    AuditId
);
id_type!(
    /// A signed-in session.
    SessionId
);
id_type!(
    /// An invitation to join a tenant.
    InvitationId
);
id_type!(
    /// One run of a durable workflow.
    RunId
);
id_type!(
    /// A schedule that starts workflow runs periodically.
    ScheduleId
);
id_type!(
    /// An AI agent of a tenant.
    AgentId
);
id_type!(
    /// A conversation with an agent.
    ConversationId
);
