//! The security headers every response carries, as plain (name, value) pairs so the web
//! layer applies them without this crate knowing about HTTP types.
//!
//! The content security policy allows scripts and styles from our own origin only — no
//! `unsafe-inline`, no `unsafe-eval` — so injected markup cannot run. A page that must embed a
//! fixed stylesheet (the standalone HTML report) allows exactly that stylesheet by its hash.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A year: long enough for browsers' preload rules, short enough to recover from a mistake.
pub const HSTS_MAX_AGE: u64 = 365 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderOptions {
    /// The site is served over TLS (directly or by a proxy): send HSTS and upgrade requests.
    /// Off for plain-HTTP development, where HSTS would pin the browser to HTTPS.
    pub tls: bool,
    pub hsts_max_age: u64,
    pub hsts_include_subdomains: bool,
}

impl Default for HeaderOptions {
    fn default() -> Self {
        HeaderOptions {
            tls: false,
            hsts_max_age: HSTS_MAX_AGE,
            hsts_include_subdomains: true,
        }
    }
}

/// The policy for HTML pages. `style_hashes` are `'sha256-…'` sources from [`style_hash`].
pub fn content_security_policy(tls: bool, style_hashes: &[String]) -> String {
    let mut style = String::from("'self'");
    for h in style_hashes {
        style.push(' ');
        style.push_str(h);
    }
    let mut csp = format!(
        "default-src 'none'; script-src 'self'; style-src {style}; img-src 'self'; \
         font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
         base-uri 'none'; object-src 'none'"
    );
    if tls {
        csp.push_str("; upgrade-insecure-requests");
    }
    csp
}

/// The CSP source that allows one inline `<style>` element with exactly this content.
pub fn style_hash(css: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(css.as_bytes()))
    )
}

/// Headers for every HTML response.
pub fn html_headers(opts: &HeaderOptions) -> Vec<(&'static str, String)> {
    html_headers_with_styles(opts, &[])
}

/// Headers for an HTML response that embeds the stylesheets with these hashes.
pub fn html_headers_with_styles(
    opts: &HeaderOptions,
    style_hashes: &[String],
) -> Vec<(&'static str, String)> {
    let mut h = common(opts);
    h.push((
        "content-security-policy",
        content_security_policy(opts.tls, style_hashes),
    ));
    h
}

/// Headers for JSON, files and everything else that is never rendered as a page.
pub fn api_headers(opts: &HeaderOptions) -> Vec<(&'static str, String)> {
    let mut h = common(opts);
    h.push((
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
            .to_owned(),
    ));
    h
}

/// For responses with anything signed-in users see: no copy in shared or browser caches.
pub fn no_store() -> (&'static str, &'static str) {
    ("cache-control", "no-store")
}

fn common(opts: &HeaderOptions) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("x-content-type-options", "nosniff".to_owned()),
        // Same-origin referrers keep Origin/Referer checks working; nothing leaks a report
        // URL to another site.
        ("referrer-policy", "same-origin".to_owned()),
        // For browsers that predate frame-ancestors.
        ("x-frame-options", "DENY".to_owned()),
        ("cross-origin-opener-policy", "same-origin".to_owned()),
        ("cross-origin-resource-policy", "same-origin".to_owned()),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
                .to_owned(),
        ),
    ];
    if opts.tls {
        let mut v = format!("max-age={}", opts.hsts_max_age);
        if opts.hsts_include_subdomains {
            v.push_str("; includeSubDomains");
        }
        h.push(("strict-transport-security", v));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(h: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn html_policy_has_no_unsafe_sources_and_forbids_framing() {
        for tls in [false, true] {
            let h = html_headers(&HeaderOptions {
                tls,
                ..HeaderOptions::default()
            });
            let csp = get(&h, "content-security-policy").unwrap();
            assert!(!csp.contains("unsafe"), "{csp}");
            assert!(csp.contains("frame-ancestors 'none'"));
            assert!(csp.contains("script-src 'self'"));
            assert!(csp.contains("object-src 'none'"));
            assert_eq!(csp.contains("upgrade-insecure-requests"), tls);
            assert_eq!(get(&h, "x-content-type-options"), Some("nosniff"));
            assert_eq!(get(&h, "referrer-policy"), Some("same-origin"));
            assert_eq!(get(&h, "x-frame-options"), Some("DENY"));
        }
    }

    #[test]
    fn hsts_only_behind_tls() {
        let plain = html_headers(&HeaderOptions::default());
        assert_eq!(get(&plain, "strict-transport-security"), None);
        let tls = api_headers(&HeaderOptions {
            tls: true,
            ..HeaderOptions::default()
        });
        assert_eq!(
            get(&tls, "strict-transport-security"),
            Some("max-age=31536000; includeSubDomains")
        );
    }

    #[test]
    fn names_and_values_are_valid_header_text() {
        let opts = HeaderOptions {
            tls: true,
            ..HeaderOptions::default()
        };
        let mut all = html_headers_with_styles(&opts, &[style_hash("p{}")]);
        all.extend(api_headers(&opts));
        for (n, v) in all {
            assert!(
                n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{n}"
            );
            assert!(v.bytes().all(|b| (0x20..0x7f).contains(&b)), "{n}: {v}");
        }
    }

    #[test]
    fn api_policy_allows_nothing() {
        let h = api_headers(&HeaderOptions::default());
        let csp = get(&h, "content-security-policy").unwrap();
        assert!(csp.starts_with("default-src 'none'"));
        assert!(!csp.contains("'self'"));
    }

    #[test]
    fn style_hash_matches_the_csp_format() {
        // sha256("") in base64, as browsers compute it for an empty <style></style>.
        assert_eq!(
            style_hash(""),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
        let h = html_headers_with_styles(&HeaderOptions::default(), &[style_hash("")]);
        assert!(
            get(&h, "content-security-policy")
                .unwrap()
                .contains("style-src 'self' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='")
        );
    }

    #[test]
    fn no_store_for_signed_in_pages() {
        assert_eq!(no_store(), ("cache-control", "no-store"));
    }
}
