//! Password hashing (argon2id, salts from the injected random source) and generation of the
//! one-time demo passwords.

use crate::App;
use crate::error::{AppError, AppResult};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Letters and digits without look-alikes (0/O, 1/l/I), so a printed password can be typed.
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A random password of `len` characters from the injected random source.
pub fn generate(app: &App, len: usize) -> String {
    let mut bytes = vec![0u8; len * 2];
    app.fill_random(&mut bytes);
    // Two bytes a character keeps the modulo bias negligible.
    bytes
        .chunks(2)
        .map(|c| {
            let v = usize::from(u16::from_le_bytes([c[0], c.get(1).copied().unwrap_or(0)]));
            char::from(ALPHABET[v % ALPHABET.len()])
        })
        .collect()
}

/// An argon2id PHC string for `password`.
pub fn hash(app: &App, password: &str) -> AppResult<String> {
    let mut salt = [0u8; 16];
    app.fill_random(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

/// Whether `password` matches the stored hash. A malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}
