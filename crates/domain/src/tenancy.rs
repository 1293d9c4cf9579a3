//! Who is asking, and on behalf of which tenant.
//!
//! A [`TenantScope`] is the only way into tenant data. It is built from a
//! [`Principal`] (an authenticated request) or, explicitly, for operator
//! commands run by whoever holds the database credentials. Repositories take
//! it by reference, so a query cannot be written without one.

use crate::ids::{TenantId, TokenId, UserId};
use crate::roles::Role;
use crate::tokens::Scope;
use serde::Serialize;

/// Who performed an action, as recorded in the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Actor {
    /// A signed-in user.
    User(UserId),
    /// An API token (tenant token or a user's personal token).
    Token(TokenId),
    /// The operator, through the `bizosaas admin` command line.
    System,
}

impl Actor {
    /// The user id column of an audit row.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Actor::User(u) => Some(*u),
            _ => None,
        }
    }
    /// The token id column of an audit row.
    pub fn token_id(&self) -> Option<TokenId> {
        match self {
            Actor::Token(t) => Some(*t),
            _ => None,
        }
    }
}

/// An authenticated caller: the outcome of checking a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    tenant: TenantId,
    actor: Actor,
    scopes: Vec<Scope>,
    role: Option<Role>,
}

impl Principal {
    /// Built by the authenticator once a credential has been verified.
    pub fn authenticated(tenant: TenantId, actor: Actor, scopes: Vec<Scope>) -> Self {
        Self {
            tenant,
            actor,
            scopes,
            role: None,
        }
    }
    /// A signed-in member: the scopes follow from the role.
    pub fn member(tenant: TenantId, user: UserId, role: Role) -> Self {
        Self {
            tenant,
            actor: Actor::User(user),
            scopes: role.scopes(),
            role: Some(role),
        }
    }
    /// A user's personal token: never more than both the token's scopes and
    /// the user's current role grant.
    pub fn personal_token(tenant: TenantId, token: TokenId, role: Role, scopes: &[Scope]) -> Self {
        let ceiling = role.scopes().into_iter().max().unwrap_or(Scope::Read);
        let mut scopes: Vec<Scope> = scopes.iter().map(|s| (*s).min(ceiling)).collect();
        scopes.sort();
        scopes.dedup();
        Self {
            tenant,
            actor: Actor::Token(token),
            scopes,
            role: Some(role),
        }
    }
    /// Whether the caller acts as an owner: a signed-in owner, or an owner's
    /// personal token that holds the admin scope.
    pub fn is_owner(&self) -> bool {
        self.role == Some(Role::Owner) && self.has_scope(Scope::Admin)
    }
    /// The member's role, for signed-in users and personal tokens.
    pub fn role(&self) -> Option<Role> {
        self.role
    }
    /// The tenant the credential belongs to.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }
    /// Who is acting.
    pub fn actor(&self) -> Actor {
        self.actor
    }
    /// Whether the credential grants `scope` (admin implies write implies read).
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s.includes(scope))
    }
    /// The tenant scope every repository call needs.
    pub fn scope(&self) -> TenantScope {
        TenantScope {
            tenant: self.tenant,
            actor: self.actor,
        }
    }
}

/// Proof that the caller may touch this tenant's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenantScope {
    tenant: TenantId,
    actor: Actor,
}

impl TenantScope {
    /// For operator commands (`bizosaas admin`) and background jobs that act
    /// for a tenant they already know; never built from request input.
    pub fn system(tenant: TenantId) -> Self {
        Self {
            tenant,
            actor: Actor::System,
        }
    }
    /// The tenant.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }
    /// Who acts within it.
    pub fn actor(&self) -> Actor {
        self.actor
    }
}
