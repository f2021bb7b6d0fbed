//! Security: signing in and what it rests on, for the web layer and the CLI.
//!
//! The rules are pure modules (values in, values out; clock and randomness injected), tested
//! without a server: TOTP and recovery codes (`totp`), password rules (`password_policy`),
//! login throttling (`throttle`), the hash-chained audit entry (`audit`), IP allowlists
//! (`ip_allowlist`) and the response headers (`headers`). The services put them to work over
//! the store: `signin`, `mfa`, `password` (argon2id hashing), `tokens`, `sessions` and
//! `audit_log`. Who may see what is decided in `kizuki_domain::access`.

pub mod audit;
pub mod audit_log;
pub mod headers;
pub mod ip_allowlist;
pub mod mfa;
pub mod password;
pub mod password_policy;
pub mod sealing;
pub mod sessions;
pub mod signin;
pub mod throttle;
pub mod tokens;
pub mod totp;

/// Compares secrets in time independent of where they differ (only the length shows).
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.ct_eq(b).into()
}

/// [`same_bytes`] for secrets written as text (tokens, CSRF tokens).
pub fn same_secret(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

pub(crate) use hex::encode as hex;
pub(crate) use kizuki_domain::text::halfwidth;
