//! Who is asking, and on behalf of which tenant.
//!
//! A [`TenantScope`] is the way into tenant data, and only a [`Principal`]
//! (an authenticated caller) builds one. Work that no request asked for (the
//! operator's commands, credential checks before a caller is known, the
//! workflow runner, purges, the local secret store) gets a [`SystemScope`]
//! that names its job instead; the store hands it a different kind of
//! transaction, which the tenant repositories do not accept.

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
    /// The platform itself: the operator's `bizosaas admin` command line,
    /// or a job of its own (see [`SystemJob`]).
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
    /// The operator at `bizosaas admin`, who proved who they are by holding
    /// the database credentials and the master key; acts as the platform.
    pub fn operator(tenant: TenantId) -> Self {
        Self::authenticated(tenant, Actor::System, vec![Scope::Admin])
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
    /// the user's current role grant. The gateway spends the tenant's model
    /// keys, so it needs a member's role, as chatting does.
    pub fn personal_token(tenant: TenantId, token: TokenId, role: Role, scopes: &[Scope]) -> Self {
        let ceiling = role.scopes().into_iter().max().unwrap_or(Scope::Read);
        let mut scopes: Vec<Scope> = scopes
            .iter()
            .filter_map(|s| match s {
                Scope::Gateway => (ceiling >= Scope::Write).then_some(Scope::Gateway),
                s => Some((*s).min(ceiling)),
            })
            .collect();
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
    /// Whether a token this caller makes may hold `scope`: what it holds
    /// itself, and the gateway for whoever may write (it spends the
    /// tenant's model keys, as a member's chat does).
    pub fn may_grant(&self, scope: Scope) -> bool {
        match scope {
            Scope::Gateway => self.has_scope(Scope::Write) || self.has_scope(Scope::Gateway),
            s => self.has_scope(s),
        }
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
    /// The tenant.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }
    /// Who acts within it.
    pub fn actor(&self) -> Actor {
        self.actor
    }
}

/// Platform work for one tenant that no authenticated caller asked for.
/// Only the few repository functions written for such work accept it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemScope {
    tenant: TenantId,
    job: SystemJob,
}

/// Why the platform touches a tenant's data on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemJob {
    /// `bizosaas admin`, run by whoever holds the database credentials.
    Operator,
    /// Creating a workspace for someone who is registering.
    Registration,
    /// Checking a presented credential (the member's role, a failed sign-in,
    /// sessions ended by a password change) before or instead of a caller.
    CredentialCheck,
    /// The workflow runner recording runs and their steps.
    WorkflowRunner,
    /// Purging what has expired.
    Maintenance,
    /// The local sealed secret store reading and writing its rows.
    SecretStore,
}

impl SystemScope {
    /// Scope for `job` on `tenant`.
    pub fn new(tenant: TenantId, job: SystemJob) -> Self {
        Self { tenant, job }
    }
    /// The tenant.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }
    /// The job.
    pub fn job(&self) -> SystemJob {
        self.job
    }
}

/// What a transaction is scoped by: the tenant whose rows it may touch and
/// who is recorded as acting.
pub trait Scoped {
    /// The tenant.
    fn tenant(&self) -> TenantId;
    /// Who acts (the platform itself for a [`SystemScope`]).
    fn actor(&self) -> Actor;
}

impl Scoped for TenantScope {
    fn tenant(&self) -> TenantId {
        self.tenant
    }
    fn actor(&self) -> Actor {
        self.actor
    }
}

impl Scoped for SystemScope {
    fn tenant(&self) -> TenantId {
        self.tenant
    }
    fn actor(&self) -> Actor {
        Actor::System
    }
}
