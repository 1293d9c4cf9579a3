//! Value objects that cannot hold bad data once parsed.

use serde::{Deserialize, Serialize};

/// One invalid field of a request, reported in problem+json `errors`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, as a JSON pointer-ish path (`name`, `scopes[1]`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A display name (tenant, token): trimmed, 1..=100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Maximum length in characters.
    pub const MAX: usize = 100;

    /// Validates a name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.chars().count() > Self::MAX {
            return Err(format!("must be at most {} characters", Self::MAX));
        }
        if s.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(s.to_string()))
    }
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tenant's URL-safe handle, derived from its name: lowercase ASCII
/// letters, digits and single dashes.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Acme  ").unwrap().as_str(), "Acme");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn slugs_keep_only_safe_characters() {
        assert_eq!(slugify("Acme Corp, Ltd."), "acme-corp-ltd");
        assert_eq!(slugify("Café"), "caf");
    }
}

/// An email address as accounts are keyed: trimmed, lowercased, ASCII only
/// (so look-alike Unicode addresses cannot collide with real ones), one `@`,
/// a dotted domain, at most 254 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Validates and normalises an address.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        if !s.is_ascii() {
            return Err("must use ASCII characters only".into());
        }
        if s.bytes().any(|b| {
            b.is_ascii_whitespace() || b.is_ascii_control() || b"<>()[],;:\\\"".contains(&b)
        }) {
            return Err("contains characters an email address cannot have".into());
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("must contain an @".into());
        };
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return Err("is not a valid email address".into());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels
                .iter()
                .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
        {
            return Err("needs a domain like example.com".into());
        }
        Ok(Self(s.to_ascii_lowercase()))
    }
    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod email_tests {
    use super::Email;

    #[test]
    fn addresses_are_normalised_to_lowercase() {
        assert_eq!(
            Email::parse("  Ann@Acme.IO ").unwrap().as_str(),
            "ann@acme.io"
        );
    }

    #[test]
    fn malformed_and_lookalike_addresses_are_refused() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@acme.io",
            "ann@acme",
            "a b@acme.io",
            "ann@@acme.io",
            "ann@acme..io",
            "аnn@acme.io",
            "ann@acme.io\u{200b}",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@acme.io", "a".repeat(65))).is_err());
    }
}
