//! Passwords: argon2id with OWASP's parameters, a minimum strength check, and
//! verification that takes as long for an unknown account as for a known one.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

/// Shortest accepted password, in characters.
pub const MIN_LENGTH: usize = 12;
/// Longest accepted password, in bytes (argon2 input stays bounded).
pub const MAX_BYTES: usize = 1024;

/// Why a password or hash was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// Too weak to accept; the message says why, for the user.
    #[error("{0}")]
    Weak(String),
    /// The stored hash is not a PHC string this build can read.
    #[error("stored password hash is unreadable")]
    BadHash,
}

/// OWASP (2024) argon2id: 19 MiB memory, 2 iterations, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Common passwords refused outright, beyond the length rule.
const COMMON: &[&str] = &[
    "password1234",
    "123456789012",
    "qwertyuiopas",
    "passwordpassword",
    "letmeinletmein",
    "iloveyou1234",
    "administrator",
    "welcome12345",
    "changeme1234",
    "111111111111",
];

/// Checks a new password: long enough, not one character repeated, not a
/// well-known one, and not the account's email.
pub fn check_strength(password: &str, email: &str) -> Result<(), PasswordError> {
    let weak = |m: &str| Err(PasswordError::Weak(m.to_string()));
    if password.chars().count() < MIN_LENGTH {
        return weak(&format!("must be at least {MIN_LENGTH} characters"));
    }
    if password.len() > MAX_BYTES {
        return weak(&format!("must be at most {MAX_BYTES} bytes"));
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return weak("must not be one character repeated");
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return weak("is too common");
    }
    if !email.is_empty() && lower.contains(&email.to_lowercase()) {
        return weak("must not contain your email address");
    }
    Ok(())
}

/// Hashes a password into a PHC string (salt and parameters included).
/// Takes tens of milliseconds by design: call it off the async threads.
pub fn hash(password: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let salt = SaltString::encode_b64(&bytes).expect("16 bytes is a valid salt length");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id with valid parameters hashes any input")
        .to_string()
}

/// Verifies a password against a stored hash, in constant time for the
/// comparison. `None` (no such account) verifies against a fixed dummy hash,
/// so an unknown email costs the same time as a wrong password.
pub fn verify(password: &str, stored: Option<&str>) -> Result<bool, PasswordError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let known = stored.is_some();
    let stored = stored.unwrap_or_else(|| DUMMY.get_or_init(|| hash("bizosaas-dummy-password")));
    let parsed = PasswordHash::new(stored).map_err(|_| PasswordError::BadHash)?;
    let ok = hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    Ok(ok && known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let h = hash("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery", Some(&h)).unwrap());
        assert!(!verify("correct horse batterz", Some(&h)).unwrap());
    }

    #[test]
    fn an_unknown_account_never_verifies() {
        assert!(!verify("bizosaas-dummy-password", None).unwrap());
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert!(check_strength("short", "a@b.io").is_err());
        assert!(check_strength("aaaaaaaaaaaaaaaa", "a@b.io").is_err());
        assert!(check_strength("Password1234", "a@b.io").is_err());
        assert!(check_strength("xx-ann@acme.io-xx", "ann@acme.io").is_err());
        assert!(check_strength("correct horse battery", "ann@acme.io").is_ok());
    }

    #[test]
    fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        assert_eq!(verify("x", Some("not-a-hash")), Err(PasswordError::BadHash));
    }
}
