//! The security core the web layer calls: TOTP and recovery codes, password rules, login
//! throttling, signing in, the hash-chained audit log, IP allowlists and the security headers.
//!
//! Each module but `signin` (which puts them together over the store) is pure (values in,
//! values out; clock and randomness injected) so it can be tested without a server; who may
//! see what is decided in `kizuki_domain::access`.

pub mod audit;
pub mod headers;
pub mod ip_allowlist;
pub mod password_policy;
pub mod signin;
pub mod throttle;
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
