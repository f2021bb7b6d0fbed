//! The security core the web layer calls: TOTP and recovery codes, password rules, login
//! throttling, the hash-chained audit log, IP allowlists and the security headers.
//!
//! Each module is pure (values in, values out; clock and randomness injected) so it can be
//! tested without a server; who may see what is decided in `kizuki_domain::access`.

pub mod audit;
pub mod headers;
pub mod ip_allowlist;
pub mod password_policy;
pub mod throttle;
pub mod totp;

/// Compares secrets in time independent of where they differ (only the length shows).
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Full-width ASCII (as a Japanese IME types it: `１２３ＡＢＣ`) to plain ASCII, so a code
/// typed in either width is the same code.
pub(crate) fn halfwidth(c: char) -> char {
    match u32::from(c) {
        0xFF01..=0xFF5E => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}
