//! API tokens: what they grant and how they look on the wire.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The fixed prefix of every BizOSaaS API token, so leaked tokens are easy to
/// recognise by secret scanners.
pub const TOKEN_PREFIX: &str = "bzs_";

/// What a token may do. Read, write and admin are ordered, each including
/// the ones before it; `gateway` stands apart: it lets a token call the
/// OpenAI-compatible gateway (`/v1`) and nothing else, and no other scope
/// includes it, so an app given a gateway token cannot read tenant data.
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
pub enum Scope {
    /// Read tenant data.
    Read,
    /// Read and change tenant data.
    Write,
    /// Everything, including tokens and tenant settings.
    Admin,
    /// Call the OpenAI-compatible gateway with the tenant's model keys.
    Gateway,
}

impl Scope {
    /// Whether holding `self` grants `needed`.
    pub fn includes(self, needed: Scope) -> bool {
        if self == Scope::Gateway || needed == Scope::Gateway {
            self == needed
        } else {
            self >= needed
        }
    }
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
            Scope::Gateway => "gateway",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "admin" => Ok(Scope::Admin),
            "gateway" => Ok(Scope::Gateway),
            other => Err(format!(
                "unknown scope `{other}` (expected read, write, admin or gateway)"
            )),
        }
    }
}

/// Parses a comma-separated scope list as stored in the database.
pub fn parse_scopes(s: &str) -> Result<Vec<Scope>, String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect()
}

/// Joins scopes for storage.
pub fn join_scopes(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A freshly generated token: the string shown once, and what is stored.
pub struct GeneratedToken {
    /// The full token, shown to its creator once and never stored.
    pub plaintext: String,
    /// The public part kept for display (`bzs_` plus eight characters).
    pub prefix: String,
    /// Hex SHA-256 of the full token, the only form stored.
    pub hash: String,
}

impl std::fmt::Debug for GeneratedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedToken")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The prefix of session tokens, distinct from API tokens.
pub const SESSION_PREFIX: &str = "bzss_";

/// Generates an API token: 32 random bytes, base64url, behind [`TOKEN_PREFIX`].
pub fn generate() -> GeneratedToken {
    generate_with(TOKEN_PREFIX)
}

/// Generates a session token, behind [`SESSION_PREFIX`].
pub fn generate_session() -> GeneratedToken {
    generate_with(SESSION_PREFIX)
}

fn generate_with(prefix: &str) -> GeneratedToken {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let plaintext = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let prefix = plaintext[..prefix.len() + 8].to_string();
    let hash = hash_token(&plaintext);
    GeneratedToken {
        plaintext,
        prefix,
        hash,
    }
}

/// The stored form of a presented token. Tokens carry 256 bits of entropy, so
/// a fast hash is enough: there is nothing to brute-force.
pub fn hash_token(token: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write;
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Checks the shape of a presented API token before any lookup.
pub fn looks_like_token(token: &str) -> bool {
    has_shape(token, TOKEN_PREFIX)
}

/// Checks the shape of a presented session token before any lookup.
pub fn looks_like_session(token: &str) -> bool {
    has_shape(token, SESSION_PREFIX)
}

fn has_shape(token: &str, prefix: &str) -> bool {
    token.len() == prefix.len() + 43
        && token.starts_with(prefix)
        && token[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        let t = generate();
        assert!(looks_like_token(&t.plaintext));
        assert!(t.plaintext.starts_with(&t.prefix));
        assert_eq!(t.hash, hash_token(&t.plaintext));
        assert!(!format!("{t:?}").contains(&t.plaintext));
    }

    #[test]
    fn sessions_and_api_tokens_cannot_be_mistaken_for_each_other() {
        let s = generate_session();
        assert!(looks_like_session(&s.plaintext) && !looks_like_token(&s.plaintext));
        assert!(!looks_like_session(&generate().plaintext));
    }

    #[test]
    fn a_token_with_a_wrong_prefix_is_refused() {
        let t = generate();
        assert!(!looks_like_token(&t.plaintext.replacen("bzs_", "xyz_", 1)));
    }

    #[test]
    fn admin_includes_write_includes_read() {
        assert!(Scope::Admin.includes(Scope::Read));
        assert!(Scope::Write.includes(Scope::Read));
        assert!(!Scope::Read.includes(Scope::Write));
    }

    #[test]
    fn the_gateway_scope_neither_includes_nor_is_included_by_another() {
        assert!(Scope::Gateway.includes(Scope::Gateway));
        assert!(!Scope::Admin.includes(Scope::Gateway));
        assert!(!Scope::Gateway.includes(Scope::Read));
    }
}

/// Whose a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Belongs to the tenant, made by an admin for an integration; it outlives
    /// its creator's membership and never acts as an owner.
    Tenant,
    /// Acts as the user who made it: never more than that user's current
    /// role allows, and dead once the user leaves the tenant.
    Personal,
}

impl TokenKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Tenant => "tenant",
            TokenKind::Personal => "personal",
        }
    }
    /// Parses the stored name; anything unknown reads as a tenant token.
    pub fn from_stored(s: &str) -> Self {
        if s == "personal" {
            TokenKind::Personal
        } else {
            TokenKind::Tenant
        }
    }
}
