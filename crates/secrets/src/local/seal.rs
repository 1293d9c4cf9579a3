//! Envelope encryption: every value under its own random data key
//! (AES-256-GCM), the data key wrapped by a master key. Both ciphertexts are
//! bound to the secret's path (associated data), so a ciphertext copied to
//! another path or tenant fails to open instead of being used.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use zeroize::Zeroizing;

/// Leading byte of both ciphertexts: the format, so it can change later.
const FORMAT: u8 = 1;
const NONCE: usize = 12;

/// A 256-bit key, wiped when dropped.
pub type KeyBytes = Zeroizing<[u8; 32]>;

/// Why a ciphertext did not open. Says nothing about the content.
#[derive(Debug, PartialEq, Eq)]
pub struct OpenError;

/// The sealed form of one value.
pub struct Sealed {
    /// Format byte, nonce and ciphertext of the data key.
    pub wrapped_key: Vec<u8>,
    /// Format byte, nonce and ciphertext of the value.
    pub ciphertext: Vec<u8>,
}

fn aad(kind: &str, path: &str, key_id: &str) -> Vec<u8> {
    format!("bizosaas/{kind}/v{FORMAT}\0{path}\0{key_id}").into_bytes()
}

fn encrypt(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let mut out = Vec::with_capacity(1 + NONCE + ct.len());
    out.push(FORMAT);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

fn decrypt(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    if sealed.len() < 1 + NONCE || sealed[0] != FORMAT {
        return Err(OpenError);
    }
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce = Nonce::from_slice(&sealed[1..1 + NONCE]);
    cipher
        .decrypt(
            nonce,
            Payload {
                msg: &sealed[1 + NONCE..],
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| OpenError)
}

/// Seals a value at `path` under a fresh data key wrapped by `master`.
pub fn seal(master: &[u8; 32], key_id: &str, path: &str, plaintext: &[u8]) -> Sealed {
    let data_key: KeyBytes = Zeroizing::new(Aes256Gcm::generate_key(OsRng).into());
    Sealed {
        ciphertext: encrypt(&data_key, plaintext, &aad("value", path, "")),
        wrapped_key: encrypt(master, data_key.as_slice(), &aad("data-key", path, key_id)),
    }
}

/// Opens a sealed value: unwraps its data key with `master`, then decrypts.
pub fn open(
    master: &[u8; 32],
    key_id: &str,
    path: &str,
    wrapped_key: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let data_key = unwrap_key(master, key_id, path, wrapped_key)?;
    decrypt(&data_key, ciphertext, &aad("value", path, ""))
}

fn unwrap_key(
    master: &[u8; 32],
    key_id: &str,
    path: &str,
    wrapped_key: &[u8],
) -> Result<KeyBytes, OpenError> {
    let raw = decrypt(master, wrapped_key, &aad("data-key", path, key_id))?;
    let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| OpenError)?;
    Ok(Zeroizing::new(bytes))
}

/// Re-wraps a data key from one master key to another; the value's
/// ciphertext is untouched.
pub fn rewrap(
    from: (&[u8; 32], &str),
    to: (&[u8; 32], &str),
    path: &str,
    wrapped_key: &[u8],
) -> Result<Vec<u8>, OpenError> {
    let data_key = unwrap_key(from.0, from.1, path, wrapped_key)?;
    Ok(encrypt(
        to.0,
        data_key.as_slice(),
        &aad("data-key", path, to.1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: [u8; 32] = [7; 32];

    #[test]
    fn a_sealed_value_opens_to_what_was_sealed() {
        let s = seal(&MASTER, "k1", "tenants/t/api_keys/openai", b"sk-123");
        let opened = open(
            &MASTER,
            "k1",
            "tenants/t/api_keys/openai",
            &s.wrapped_key,
            &s.ciphertext,
        );
        assert_eq!(opened.unwrap().as_slice(), b"sk-123");
    }

    #[test]
    fn a_flipped_bit_anywhere_fails_to_open() {
        let s = seal(&MASTER, "k1", "p", b"sk-123");
        for i in 0..s.ciphertext.len() {
            let mut ct = s.ciphertext.clone();
            ct[i] ^= 1;
            assert_eq!(
                open(&MASTER, "k1", "p", &s.wrapped_key, &ct),
                Err(OpenError)
            );
        }
        for i in 0..s.wrapped_key.len() {
            let mut wk = s.wrapped_key.clone();
            wk[i] ^= 0x80;
            assert_eq!(open(&MASTER, "k1", "p", &wk, &s.ciphertext), Err(OpenError));
        }
    }

    #[test]
    fn a_ciphertext_moved_to_another_path_fails_to_open() {
        let s = seal(&MASTER, "k1", "tenants/a/api_keys/openai", b"sk-123");
        let moved = open(
            &MASTER,
            "k1",
            "tenants/b/api_keys/openai",
            &s.wrapped_key,
            &s.ciphertext,
        );
        assert_eq!(moved, Err(OpenError));
    }

    #[test]
    fn a_rewrapped_key_opens_under_the_new_master_only() {
        let new = [9u8; 32];
        let s = seal(&MASTER, "k1", "p", b"sk-123");
        let wk = rewrap((&MASTER, "k1"), (&new, "k2"), "p", &s.wrapped_key).unwrap();
        assert_eq!(
            open(&new, "k2", "p", &wk, &s.ciphertext)
                .unwrap()
                .as_slice(),
            b"sk-123"
        );
        assert_eq!(open(&MASTER, "k1", "p", &wk, &s.ciphertext), Err(OpenError));
    }
}
