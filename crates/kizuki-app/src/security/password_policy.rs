//! Password rules in the spirit of OWASP ASVS 4.0.3 §2.1 and NIST SP 800-63B: long enough,
//! not absurdly long, no composition rules, not a known breached or common password, and not
//! built from the user's own e-mail address.
//!
//! Length counts Unicode characters, not bytes, so a Japanese passphrase is judged by what a
//! person typed. Nothing is trimmed or truncated: the password checked is the password hashed.

use kizuki_domain::{FieldError, FieldErrorKind};
use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;
/// A local part shorter than this would reject half of all passwords by accident ("a@x.jp").
const MIN_LOCAL_PART: usize = 3;

const FIELD: &str = "password";

/// The list shipped in data/breached-passwords.txt, compiled in so a server never starts
/// without it.
const BUILTIN: &str = include_str!("../../../../data/breached-passwords.txt");

/// Known breached or common passwords, compared case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct BreachedList(HashSet<String>);

impl BreachedList {
    /// The shipped list, parsed once.
    pub fn builtin() -> &'static BreachedList {
        static LIST: OnceLock<BreachedList> = OnceLock::new();
        LIST.get_or_init(|| BreachedList::parse(BUILTIN))
    }

    /// One password a line; blank lines and lines starting with `#` are skipped.
    pub fn parse(text: &str) -> BreachedList {
        BreachedList(
            text.lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_lowercase)
                .collect(),
        )
    }

    pub fn contains(&self, password: &str) -> bool {
        self.0.contains(&password.to_lowercase())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Why a password was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    /// On the breached or common list.
    Breached,
    /// Contains the local part of the user's e-mail address.
    ContainsEmail,
    /// Contains the user's name as the directory shows it (or a 3+ character part of it).
    ContainsName,
}

impl PasswordProblem {
    /// The form field the problem belongs to.
    pub fn field(self) -> &'static str {
        FIELD
    }

    pub fn message_ja(self) -> String {
        match self {
            PasswordProblem::TooShort { min } => {
                format!("パスワードは{min}文字以上にしてください")
            }
            PasswordProblem::TooLong { max } => {
                format!("パスワードは{max}文字以内にしてください")
            }
            PasswordProblem::Breached => "このパスワードは漏えい済みまたはよく使われているため使用できません。別のパスワードにしてください".to_owned(),
            PasswordProblem::ContainsEmail => {
                "パスワードにメールアドレスの@より前の部分を含めないでください".to_owned()
            }
            PasswordProblem::ContainsName => {
                "パスワードに利用者名を含めないでください".to_owned()
            }
        }
    }

    pub fn message_en(self) -> String {
        match self {
            PasswordProblem::TooShort { min } => {
                format!("The password must be at least {min} characters")
            }
            PasswordProblem::TooLong { max } => {
                format!("The password must be at most {max} characters")
            }
            PasswordProblem::Breached => {
                "This password is known from breaches or too common; choose another".to_owned()
            }
            PasswordProblem::ContainsEmail => {
                "The password must not contain the part of your e-mail address before the @"
                    .to_owned()
            }
            PasswordProblem::ContainsName => "The password must not contain your name".to_owned(),
        }
    }
}

impl fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{FIELD}: {}", self.message_en())
    }
}

impl std::error::Error for PasswordProblem {}

/// As a form error. Length problems use the shared kinds (whose messages forms already
/// translate); the others carry "日本語 / English" like the rest of the domain's errors.
impl From<PasswordProblem> for FieldError {
    fn from(p: PasswordProblem) -> FieldError {
        let kind = match p {
            PasswordProblem::TooShort { min } => FieldErrorKind::TooShort { min },
            PasswordProblem::TooLong { max } => FieldErrorKind::TooLong { max },
            PasswordProblem::Breached
            | PasswordProblem::ContainsEmail
            | PasswordProblem::ContainsName => FieldErrorKind::Invalid {
                reason: format!("{} / {}", p.message_ja(), p.message_en()),
            },
        };
        FieldError::new(FIELD, kind)
    }
}

/// The rules, with the breached list to use.
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy<'a> {
    pub min_chars: usize,
    pub max_chars: usize,
    pub breached: &'a BreachedList,
}

impl Default for PasswordPolicy<'static> {
    fn default() -> Self {
        PasswordPolicy {
            min_chars: MIN_CHARS,
            max_chars: MAX_CHARS,
            breached: BreachedList::builtin(),
        }
    }
}

impl PasswordPolicy<'_> {
    /// Checks a new password for the account with `email`. The first problem is returned:
    /// length first, since a too-short password needs no further advice.
    pub fn check(&self, password: &str, email: &str) -> Result<(), PasswordProblem> {
        let n = password.chars().count();
        if n < self.min_chars {
            return Err(PasswordProblem::TooShort {
                min: self.min_chars,
            });
        }
        if n > self.max_chars {
            return Err(PasswordProblem::TooLong {
                max: self.max_chars,
            });
        }
        if self.breached.contains(password) {
            return Err(PasswordProblem::Breached);
        }
        let lower = password.to_lowercase();
        if local_parts(email).any(|p| lower.contains(&p)) {
            return Err(PasswordProblem::ContainsEmail);
        }
        Ok(())
    }

    /// [`check`](Self::check), and also refuses the user's display name in the password
    /// (ASVS 2.1: not built from the account's own identifiers).
    pub fn check_user(
        &self,
        password: &str,
        email: &str,
        display_name: &str,
    ) -> Result<(), PasswordProblem> {
        self.check(password, email)?;
        let lower = password.to_lowercase();
        if name_parts(display_name).any(|p| lower.contains(&p)) {
            return Err(PasswordProblem::ContainsName);
        }
        Ok(())
    }
}

/// The name as a whole without spaces (Japanese names are often two 2-character parts, each
/// too short alone, but "田中花子" is telling) and each part of 3+ characters, lower-cased.
fn name_parts(name: &str) -> impl Iterator<Item = String> {
    let is_sep = |c: char| c.is_whitespace() || matches!(c, '・' | '.' | '-' | '_');
    let lower = name.to_lowercase();
    let whole: String = lower.chars().filter(|c| !is_sep(*c)).collect();
    let parts: Vec<String> = lower
        .split(is_sep)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    std::iter::once(whole)
        .chain(parts)
        .filter(|p| p.chars().count() >= MIN_LOCAL_PART)
}

/// Checks `password` with the default rules and the shipped list.
pub fn check(password: &str, email: &str) -> Result<(), PasswordProblem> {
    PasswordPolicy::default().check(password, email)
}

/// The e-mail's local part, and without its `+tag` if it has one, lower-cased; parts too
/// short to mean anything are left out.
fn local_parts(email: &str) -> impl Iterator<Item = String> {
    let local = email
        .trim()
        .rsplit_once('@')
        .map_or("", |(l, _)| l)
        .to_lowercase();
    let untagged = local.split('+').next().unwrap_or("").to_owned();
    [local, untagged]
        .into_iter()
        .filter(|p| p.chars().count() >= MIN_LOCAL_PART)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMAIL: &str = "tanaka.hanako@example.jp";

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(
            check("short-pass1", EMAIL),
            Err(PasswordProblem::TooShort { min: 12 })
        );
        assert_eq!(check("abcdefghjkmn", EMAIL), Ok(()));
        // Eleven kanji are 33 bytes but still too short; twelve are enough.
        assert_eq!(check("重要インフラ情報共有セン", EMAIL), Ok(()));
        assert_eq!(
            check("重要インフラ情報共有セ", EMAIL),
            Err(PasswordProblem::TooShort { min: 12 })
        );
        assert_eq!(check(&"xy7".repeat(42), EMAIL), Ok(()));
        assert_eq!(
            check(&"xy7".repeat(43), EMAIL),
            Err(PasswordProblem::TooLong { max: 128 })
        );
    }

    #[test]
    fn no_composition_rules_and_spaces_count() {
        assert_eq!(check("lantern orbit maple quiet", EMAIL), Ok(()));
        assert_eq!(check("alllowercaseletters", EMAIL), Ok(()));
        assert!(check("ぱすわーどはひみつだよ", EMAIL).is_err());
        assert_eq!(check("ぱすわーどはひみつだよね", EMAIL), Ok(()));
    }

    #[test]
    fn breached_passwords_are_refused_in_any_case() {
        let list = BreachedList::builtin();
        assert!(list.len() > 3000, "{}", list.len());
        for pw in [
            "password1234",
            "PASSWORD1234",
            "Password1234",
            "qwertyuiop123",
            "Correct Horse Battery Staple",
        ] {
            assert_eq!(check(pw, EMAIL), Err(PasswordProblem::Breached), "{pw}");
        }
        // The list's comment header is not a password.
        assert!(!list.0.iter().any(|p| p.starts_with('#')));
    }

    #[test]
    fn a_custom_list_is_used_when_given() {
        let list = BreachedList::parse("# comment\n\nHunter2Hunter2\n");
        assert_eq!(list.len(), 1);
        let p = PasswordPolicy {
            breached: &list,
            ..PasswordPolicy::default()
        };
        assert_eq!(
            p.check("hunter2hunter2", EMAIL),
            Err(PasswordProblem::Breached)
        );
        assert_eq!(p.check("password1234", EMAIL), Ok(()));
    }

    #[test]
    fn the_email_local_part_is_refused() {
        assert_eq!(
            check("my-Tanaka.Hanako-2024", EMAIL),
            Err(PasswordProblem::ContainsEmail)
        );
        assert_eq!(check("tanaka-2024-spring", EMAIL), Ok(()));
        assert_eq!(
            check("rainy-day-in-kyoto-ana", "ana+kizuki@example.jp"),
            Err(PasswordProblem::ContainsEmail)
        );
        // A one- or two-letter local part would match too much to be useful.
        assert_eq!(check("a-quiet-evening-walk", "a@example.jp"), Ok(()));
        assert_eq!(check("a-quiet-evening-walk", "not-an-email"), Ok(()));
    }

    #[test]
    fn the_display_name_is_refused() {
        let p = PasswordPolicy::default();
        assert_eq!(
            p.check_user("spring-Hanako-garden", "h.t@example.jp", "Hanako Tanaka"),
            Err(PasswordProblem::ContainsName)
        );
        // Two-character parts alone are allowed, the whole name is not.
        assert_eq!(
            p.check_user("田中さんの秘密の合言葉です", "h.t@example.jp", "田中 花子"),
            Ok(())
        );
        assert_eq!(
            p.check_user(
                "わたしは田中花子ですよろしく",
                "h.t@example.jp",
                "田中 花子"
            ),
            Err(PasswordProblem::ContainsName)
        );
        // The other rules still apply first.
        assert_eq!(
            p.check_user("password1234", "h.t@example.jp", "Hanako Tanaka"),
            Err(PasswordProblem::Breached)
        );
    }

    #[test]
    fn errors_name_the_field_in_both_languages() {
        for p in [
            PasswordProblem::TooShort { min: 12 },
            PasswordProblem::TooLong { max: 128 },
            PasswordProblem::Breached,
            PasswordProblem::ContainsEmail,
            PasswordProblem::ContainsName,
        ] {
            let e = FieldError::from(p);
            assert_eq!(e.field, "password");
            assert_eq!(p.field(), "password");
            assert!(!e.message_ja().is_empty() && !e.message_en().is_empty());
            assert!(!p.message_ja().is_ascii(), "{p:?}");
            assert!(p.message_en().is_ascii(), "{p:?}");
        }
        let e = FieldError::from(PasswordProblem::Breached);
        assert!(e.message_en().contains("漏えい") && e.message_en().contains("breaches"));
    }
}
