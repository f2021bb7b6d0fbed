//! Time-based one-time passwords (RFC 6238: HMAC-SHA-1, 30-second steps, 6 digits) and the
//! single-use recovery codes that stand in for a lost authenticator.
//!
//! Every authenticator app speaks exactly these parameters, which is why they are fixed.
//! A step a code was accepted for is remembered by the caller and passed back in, so a code
//! seen over a shoulder or in a proxy log cannot be used a second time.

use super::{halfwidth, hex, same_bytes};
use crate::App;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use kizuki_domain::user::Role;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::fmt;

pub const DIGITS: u32 = 6;
pub const STEP_SECONDS: i64 = 30;
/// Steps either side of now that are still accepted, for clocks that drift and people who
/// type slowly.
pub const WINDOW: u64 = 1;
/// 160 bits, the HMAC-SHA-1 block RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
/// RFC 4226 requires at least 128 bits from imported secrets.
const MIN_SECRET_BYTES: usize = 16;
const MAX_SECRET_BYTES: usize = 64;
pub const RECOVERY_CODES: usize = 10;

/// Whether the role must enrol before it can use the system. Centre staff see every
/// organisation's reports, so one stolen password must never be enough there.
pub fn mfa_required(role: Role) -> bool {
    role.is_centre()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("the code must be 6 digits")]
    Malformed,
    #[error("the code is not correct")]
    Wrong,
    /// Correct, but for a step already used.
    #[error("the code has already been used")]
    Replayed,
    #[error("the secret is not valid base32 of 16 to 64 bytes")]
    BadSecret,
}

impl TotpError {
    pub fn message_ja(self) -> &'static str {
        match self {
            TotpError::Malformed => "確認コードは6桁の数字で入力してください",
            TotpError::Wrong => "確認コードが正しくありません",
            TotpError::Replayed => {
                "この確認コードは使用済みです。次のコードが表示されるまでお待ちください"
            }
            TotpError::BadSecret => "シークレットの形式が正しくありません",
        }
    }

    pub fn message_en(self) -> &'static str {
        match self {
            TotpError::Malformed => "Enter the 6-digit code",
            TotpError::Wrong => "The code is not correct",
            TotpError::Replayed => "This code has already been used; wait for the next one",
            TotpError::BadSecret => "The secret is not valid",
        }
    }
}

/// A shared TOTP secret. It must be stored so it can be read back (a hash would not do), so
/// it is kept out of `Debug` output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A new secret from the application's random source.
    pub fn generate(app: &App) -> TotpSecret {
        TotpSecret::generate_with(|b| app.fill_random(b))
    }

    /// A new secret from `fill`, for callers and tests with their own source.
    pub fn generate_with(fill: impl FnOnce(&mut [u8])) -> TotpSecret {
        let mut b = vec![0u8; SECRET_BYTES];
        fill(&mut b);
        TotpSecret(b)
    }

    pub fn from_bytes(b: &[u8]) -> Result<TotpSecret, TotpError> {
        if (MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&b.len()) {
            Ok(TotpSecret(b.to_vec()))
        } else {
            Err(TotpError::BadSecret)
        }
    }

    pub fn from_base32(s: &str) -> Result<TotpSecret, TotpError> {
        base32_decode(s)
            .ok_or(TotpError::BadSecret)
            .and_then(|b| TotpSecret::from_bytes(&b))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as the enrolment page shows it for typing by hand.
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// The code an authenticator shows at `at` (for tests and diagnostics).
    pub fn code_at(&self, at: DateTime<Utc>) -> String {
        code(&self.0, step_at(at), DIGITS)
    }
}

/// The 30-second step containing `at`; instants before 1970 are step 0.
pub fn step_at(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp().div_euclid(STEP_SECONDS)).unwrap_or(0)
}

/// RFC 4226 HOTP: HMAC-SHA-1 of the counter, dynamically truncated to `digits` digits.
fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC takes keys of any length, so this cannot fail; an impossible failure yields a value
    // no code can equal (codes are below 10^digits).
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(key) else {
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h[h.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([h[off] & 0x7f, h[off + 1], h[off + 2], h[off + 3]]);
    bin % 10u32.pow(digits)
}

fn code(key: &[u8], step: u64, digits: u32) -> String {
    format!(
        "{:0width$}",
        hotp(key, step, digits),
        width = digits as usize
    )
}

/// Checks a typed code at `at`. `last_used_step` is the step of the last code this account
/// had accepted; returns the step this code was accepted for, which the caller must store
/// (atomically, compare-and-set on the old value) before treating the login as done.
pub fn verify(
    secret: &TotpSecret,
    input: &str,
    at: DateTime<Utc>,
    last_used_step: Option<u64>,
) -> Result<u64, TotpError> {
    let typed: String = input
        .chars()
        .map(halfwidth)
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::Malformed);
    }
    let now = step_at(at);
    let mut fresh = None;
    let mut replayed = false;
    // Every step in the window is computed and compared, so timing says nothing about which
    // one matched.
    for step in now.saturating_sub(WINDOW)..=now.saturating_add(WINDOW) {
        let expected = code(&secret.0, step, DIGITS);
        if same_bytes(expected.as_bytes(), typed.as_bytes()) {
            if last_used_step.is_some_and(|last| step <= last) {
                replayed = true;
            } else if fresh.is_none() {
                fresh = Some(step);
            }
        }
    }
    match (fresh, replayed) {
        (Some(step), _) => Ok(step),
        (None, true) => Err(TotpError::Replayed),
        (None, false) => Err(TotpError::Wrong),
    }
}

/// The `otpauth://` URI an authenticator app reads from a QR code.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent_encode(issuer),
        percent_encode(account),
        secret.to_base32(),
        percent_encode(issuer),
    )
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps expect.
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 in either case, ignoring spaces, hyphens and trailing `=` padding (people
/// copy secrets in groups); `None` on any other character.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let body = s.trim_end_matches(|c: char| c == '=' || c.is_whitespace());
    for c in body.chars() {
        if c.is_whitespace() || c == '-' {
            continue;
        }
        let c = c.to_ascii_uppercase();
        let v = BASE32.iter().position(|&a| char::from(a) == c)?;
        acc = (acc << 5) | v as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    Some(out)
}

/// One stored recovery code: only its hash is kept, with when it was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCode {
    pub hash: String,
    pub used_at: Option<DateTime<Utc>>,
}

/// Crockford's base32 alphabet: no I, L, O or U, so a printed code cannot be misread.
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const RECOVERY_CHARS: usize = 16;

/// Ten new recovery codes from the application's random source: the codes to show once, and
/// what to store.
pub fn new_recovery_codes(app: &App) -> (Vec<String>, Vec<RecoveryCode>) {
    new_recovery_codes_with(|b| app.fill_random(b))
}

/// Each code carries 80 random bits, so a fast hash suffices: there is nothing a slow hash
/// would stop anyone guessing that 2^80 does not already.
pub fn new_recovery_codes_with(
    mut fill: impl FnMut(&mut [u8]),
) -> (Vec<String>, Vec<RecoveryCode>) {
    let mut shown = Vec::with_capacity(RECOVERY_CODES);
    let mut stored = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut raw = [0u8; RECOVERY_CHARS * 5 / 8];
        fill(&mut raw);
        let mut acc: u128 = 0;
        for b in raw {
            acc = (acc << 8) | u128::from(b);
        }
        let plain: String = (0..RECOVERY_CHARS)
            .map(|i| char::from(CROCKFORD[((acc >> (5 * i)) & 31) as usize]))
            .collect();
        stored.push(RecoveryCode {
            hash: recovery_hash(&plain),
            used_at: None,
        });
        let grouped: Vec<&str> = (0..RECOVERY_CHARS / 4)
            .map(|g| &plain[g * 4..g * 4 + 4])
            .collect();
        shown.push(grouped.join("-"));
    }
    (shown, stored)
}

/// The canonical form of a typed recovery code, or `None` if it cannot be one.
fn normalise_recovery(input: &str) -> Option<String> {
    let s: String = input
        .chars()
        .map(halfwidth)
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            c => c,
        })
        .collect();
    (s.len() == RECOVERY_CHARS && s.bytes().all(|b| CROCKFORD.contains(&b))).then_some(s)
}

fn recovery_hash(normalised: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"kizuki-recovery-v1\0");
    h.update(normalised.as_bytes());
    hex(h.finalize())
}

/// The stored hash a typed recovery code would have, or `None` if it cannot be a code; lets
/// the store spend a code with one conditional update (`… WHERE hash = ? AND used_at IS NULL`).
pub fn recovery_code_hash(input: &str) -> Option<String> {
    normalise_recovery(input).map(|n| recovery_hash(&n))
}

/// Uses up the code `input` if it is one of `codes` and unused, marking it used at `at`.
/// Returns the index of the code used, which the store must mark used only if it still is
/// unused (a conditional update), so two simultaneous logins cannot both spend it.
pub fn redeem_recovery_code(
    codes: &mut [RecoveryCode],
    input: &str,
    at: DateTime<Utc>,
) -> Option<usize> {
    let hash = recovery_code_hash(input)?;
    let mut found = None;
    for (i, c) in codes.iter().enumerate() {
        if same_bytes(c.hash.as_bytes(), hash.as_bytes()) && c.used_at.is_none() {
            found.get_or_insert(i);
        }
    }
    let i = found?;
    codes[i].used_at = Some(at);
    Some(i)
}

/// How many recovery codes are left, for the "generate new codes" warning.
pub fn recovery_codes_left(codes: &[RecoveryCode]) -> usize {
    codes.iter().filter(|c| c.used_at.is_none()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const RFC_KEY: &[u8] = b"12345678901234567890";

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        let want = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, w) in want.into_iter().enumerate() {
            assert_eq!(hotp(RFC_KEY, counter as u64, 6), w, "counter {counter}");
        }
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1 rows (8 digits).
        let rows = [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ];
        for (secs, want) in rows {
            assert_eq!(code(RFC_KEY, step_at(t(secs)), 8), want, "T={secs}");
        }
        // The 6-digit code is the last six digits of the same truncation.
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        assert_eq!(secret.code_at(t(59)), "287082");
        assert_eq!(secret.code_at(t(1111111109)), "081804");
    }

    #[test]
    fn window_is_one_step_either_side() {
        let s = TotpSecret::from_bytes(RFC_KEY).unwrap();
        let now = t(1_700_000_015); // inside a step, 15 s in
        let step = step_at(now);
        let at_step = |k: u64| code(RFC_KEY, k, DIGITS);
        assert_eq!(verify(&s, &at_step(step), now, None), Ok(step));
        assert_eq!(verify(&s, &at_step(step - 1), now, None), Ok(step - 1));
        assert_eq!(verify(&s, &at_step(step + 1), now, None), Ok(step + 1));
        for k in [step - 2, step + 2] {
            let c = at_step(k);
            // A code two steps off could coincide with the current one; skip that 1e-6 case.
            if (step - 1..=step + 1).all(|w| at_step(w) != c) {
                assert_eq!(verify(&s, &c, now, None), Err(TotpError::Wrong), "step {k}");
            }
        }
    }

    #[test]
    fn a_code_cannot_be_used_twice_nor_an_older_one_after_it() {
        let s = TotpSecret::from_bytes(RFC_KEY).unwrap();
        let now = t(1_700_000_015);
        let step = step_at(now);
        let current = code(RFC_KEY, step, DIGITS);
        let used = verify(&s, &current, now, None).unwrap();
        assert_eq!(
            verify(&s, &current, now, Some(used)),
            Err(TotpError::Replayed)
        );
        let older = code(RFC_KEY, step - 1, DIGITS);
        assert_eq!(
            verify(&s, &older, now, Some(used)),
            Err(TotpError::Replayed)
        );
        // Thirty seconds later the next code works, and the one before is still refused.
        let later = now + chrono::Duration::seconds(30);
        let next = code(RFC_KEY, step + 1, DIGITS);
        assert_eq!(verify(&s, &next, later, Some(used)), Ok(step + 1));
        assert_eq!(
            verify(&s, &current, later, Some(step + 1)),
            Err(TotpError::Replayed)
        );
    }

    #[test]
    fn typed_forms_are_normalised_and_junk_refused() {
        let s = TotpSecret::from_bytes(RFC_KEY).unwrap();
        let now = t(59);
        assert!(verify(&s, "287 082", now, None).is_ok());
        assert!(verify(&s, "２８７０８２", now, None).is_ok());
        assert!(verify(&s, " 287-082 ", now, None).is_ok());
        for bad in ["", "28708", "2870820", "28708a", "２８７０８", "+28708"] {
            assert_eq!(
                verify(&s, bad, now, None),
                Err(TotpError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(verify(&s, "000000", now, None), Err(TotpError::Wrong));
    }

    #[test]
    fn base32_round_trips_and_matches_rfc4648() {
        // RFC 4648 section 10 (padding dropped on encode, tolerated on decode).
        let rows = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (plain, enc) in rows {
            assert_eq!(base32_encode(plain.as_bytes()), enc);
            assert_eq!(base32_decode(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(base32_decode("MZXW6YQ=").unwrap(), b"foob");
        assert_eq!(base32_decode("mzxw 6ytb-oi").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZXW1"), None);
        assert_eq!(base32_decode("MZ=XW"), None);
        assert_eq!(base32_encode(RFC_KEY), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn secrets_are_generated_from_the_injected_source_and_checked_on_import() {
        let a = TotpSecret::generate_with(|b| b.fill(7));
        assert_eq!(a.as_bytes(), &[7u8; SECRET_BYTES]);
        let back = TotpSecret::from_base32(&a.to_base32()).unwrap();
        assert_eq!(back, a);
        assert_eq!(format!("{a:?}"), "TotpSecret(..)");
        assert_eq!(
            TotpSecret::from_base32("MZXW6YTBOI"),
            Err(TotpError::BadSecret)
        );
        assert_eq!(TotpSecret::from_base32("!!"), Err(TotpError::BadSecret));
        assert!(TotpSecret::from_bytes(&[0; 65]).is_err());
    }

    #[test]
    fn otpauth_uri_is_well_formed() {
        let s = TotpSecret::from_bytes(RFC_KEY).unwrap();
        let uri = otpauth_uri(&s, "kizuki 気付き", "ana+x@example.jp");
        assert_eq!(
            uri,
            "otpauth://totp/kizuki%20%E6%B0%97%E4%BB%98%E3%81%8D:ana%2Bx%40example.jp\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=kizuki%20%E6%B0%97%E4%BB%98%E3%81%8D\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn recovery_codes_are_single_use_and_stored_hashed() {
        let mut n = 0u8;
        let (shown, mut stored) = new_recovery_codes_with(|b| {
            for x in b.iter_mut() {
                n = n.wrapping_add(1);
                *x = n;
            }
        });
        assert_eq!(shown.len(), RECOVERY_CODES);
        assert_eq!(stored.len(), RECOVERY_CODES);
        let mut distinct = shown.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        for (code, s) in shown.iter().zip(&stored) {
            assert_eq!(code.len(), 19, "{code}");
            assert!(!s.hash.contains(&code.replace('-', "")));
            assert_eq!(s.hash.len(), 64);
        }
        let now = t(1_700_000_000);
        assert_eq!(redeem_recovery_code(&mut stored, &shown[3], now), Some(3));
        assert_eq!(stored[3].used_at, Some(now));
        assert_eq!(redeem_recovery_code(&mut stored, &shown[3], now), None);
        assert_eq!(recovery_codes_left(&stored), RECOVERY_CODES - 1);
        // Upper case, no hyphens, full width: the same code.
        let typed: String = shown[5].replace('-', " ").to_uppercase();
        assert_eq!(redeem_recovery_code(&mut stored, &typed, now), Some(5));
        let wide: String = shown[6]
            .chars()
            .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap())
            .collect();
        assert_eq!(redeem_recovery_code(&mut stored, &wide, now), Some(6));
        assert_eq!(
            recovery_code_hash(&shown[7].to_uppercase()).as_deref(),
            Some(stored[7].hash.as_str())
        );
        assert_eq!(recovery_code_hash("not-a-code"), None);
        assert_eq!(redeem_recovery_code(&mut stored, "not-a-code", now), None);
        assert_eq!(redeem_recovery_code(&mut stored, "", now), None);
        assert_eq!(recovery_codes_left(&stored), RECOVERY_CODES - 3);
    }

    #[test]
    fn misread_letters_count_as_the_digits_they_look_like() {
        let (shown, mut stored) = new_recovery_codes_with(|b| b.fill(0));
        // All-zero randomness gives "0000-0000-0000-0000" for every code.
        assert_eq!(shown[0], "0000-0000-0000-0000");
        assert_eq!(
            redeem_recovery_code(&mut stored, "OOOO-oooo-0000-0000", t(0)),
            Some(0)
        );
    }

    #[test]
    fn only_centre_roles_must_enrol() {
        for r in Role::ALL {
            assert_eq!(mfa_required(r), r.is_centre(), "{r}");
        }
    }
}
