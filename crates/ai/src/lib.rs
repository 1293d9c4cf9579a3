//! LLM providers: which providers a tenant can bring a key for, checking
//! such a key before it is stored, and chatting with their models.

pub mod chat;
pub mod providers;
