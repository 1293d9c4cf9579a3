//! Domain types of BizOSaaS: ids, tenancy, audit entries, paging, tokens.
//!
//! Nothing here knows about HTTP or SQL; adapters (`store`, the web layer)
//! depend on this crate, never the other way round.

pub mod agents;
pub mod audit;
pub mod email;
pub mod ids;
pub mod llm;
pub mod paging;
pub mod roles;
pub mod secrets;
pub mod tenancy;
pub mod tokens;
pub mod validation;
pub mod workflows;

pub use ids::{
    AgentId, AuditId, ConversationId, InvitationId, RunId, ScheduleId, SessionId, TenantId,
    TokenId, UserId,
};
pub use tenancy::{Actor, Principal, Scoped, SystemJob, SystemScope, TenantScope};
