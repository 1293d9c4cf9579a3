//! Roles of a member within a tenant.

use crate::tokens::Scope;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A member's role. Ordered: each includes the ones below it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads tenant data.
    Viewer,
    /// Reads and writes tenant data.
    Member,
    /// Also manages members, connectors, keys and agents.
    Admin,
    /// Also manages billing and the tenant itself.
    Owner,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// The API scopes a signed-in member of this role holds.
    pub fn scopes(self) -> Vec<Scope> {
        vec![match self {
            Role::Viewer => Scope::Read,
            Role::Member => Scope::Write,
            Role::Admin | Role::Owner => Scope::Admin,
        }]
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "member" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            other => Err(format!("unknown role `{other}`")),
        }
    }
}
