//! What the e-mail and webhook channels trust and where they may go unencrypted: an extra CA
//! from `ca_file` beside the system's roots, rustls on ring, and the rule for plain SMTP or
//! `http://` (internal hosts only).
//!
//! Certificate verification is never switched off. Both channels verify against the system's
//! root certificates (`/etc/ssl/certs`, or `SSL_CERT_FILE` / `SSL_CERT_DIR`) plus, when
//! configured, the CA certificates of one PEM file — for an internal relay or receiver whose
//! certificate comes from the organisation's own CA.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The CA certificates of a `ca_file`, read and checked when the configuration is loaded, so a
/// missing or broken file stops `kizuki serve` at start rather than every delivery.
#[derive(Clone, PartialEq, Eq)]
pub struct ExtraCa {
    path: PathBuf,
    certs: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for ExtraCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtraCa")
            .field("path", &self.path)
            .field("certs", &self.certs.len())
            .finish()
    }
}

impl ExtraCa {
    /// Reads the PEM file at `path`: at least one certificate, each usable as a trust anchor.
    /// Errors are Japanese first and name the file.
    pub fn load(path: &Path) -> Result<ExtraCa, String> {
        let pem = std::fs::read(path).map_err(|e| {
            let shown = path.display();
            format!("「{shown}」を読めません / cannot read '{shown}': {e}")
        })?;
        ExtraCa::from_pem(path, &pem)
    }

    /// The certificates in `pem`, read from `path` (named in errors).
    pub fn from_pem(path: &Path, pem: &[u8]) -> Result<ExtraCa, String> {
        let shown = path.display();
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                format!("「{shown}」は PEM の証明書として読めません / '{shown}' is not PEM certificates: {e}")
            })?;
        if certs.is_empty() {
            return Err(format!(
                "「{shown}」に証明書（BEGIN CERTIFICATE）がありません / no certificate in '{shown}'"
            ));
        }
        let mut check = rustls::RootCertStore::empty();
        for cert in &certs {
            check.add(cert.clone()).map_err(|e| {
                format!("「{shown}」の証明書を CA として使えません / a certificate in '{shown}' cannot be a CA: {e}")
            })?;
        }
        Ok(ExtraCa {
            path: path.to_owned(),
            certs,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The certificates, DER.
    pub fn certs(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }
}

/// A client configuration on ring trusting the system's roots and `extra`: what the webhook
/// posts with. (lettre builds the same from the same roots for SMTP.)
#[allow(
    deprecated,
    reason = "rustls 0.23.48 deprecates ring's provider for lacking post-quantum key exchange; kizuki keeps ring (no aws-lc-sys C build) and classical key exchange"
)]
pub(crate) fn client_config(
    extra: Option<&ExtraCa>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped, as lettre does: the ones that load still
    // count, and a configured `ca_file` is enough on its own for an internal receiver.
    let native = rustls_native_certs::load_native_certs();
    if !native.errors.is_empty() {
        tracing::debug!(
            errors = native.errors.len(),
            "some system root certificates did not load"
        );
    }
    roots.add_parsable_certificates(native.certs);
    for cert in extra.map(ExtraCa::certs).unwrap_or_default() {
        roots.add(cert.clone())?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// Whether a TLS handshake or certificate check failed somewhere among `e`'s causes: rustls's
/// error, on its own or wrapped in I/O errors (whose `source` skips the error they wrap, so the
/// walk goes through `get_ref`).
pub(crate) fn is_tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if e.is::<rustls::Error>() {
            return true;
        }
        next = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

/// `localhost`, 127.0.0.0/8 or `::1` (brackets allowed around IPv6).
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || ip(host).is_some_and(|ip| ip.is_loopback())
}

/// A loopback host or a private address: 10/8, 172.16/12, 192.168/16, fc00::/7. Only
/// addresses count, not names (other than `localhost`): a name may resolve anywhere.
pub fn is_internal(host: &str) -> bool {
    if is_loopback(host) {
        return true;
    }
    match ip(host) {
        Some(IpAddr::V4(v4)) => v4.is_private(),
        Some(IpAddr::V6(v6)) => (v6.segments()[0] & 0xfe00) == 0xfc00,
        None => false,
    }
}

/// The address in `host`, an IPv4-mapped IPv6 address as IPv4.
fn ip(host: &str) -> Option<IpAddr> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(Ipv6Addr::to_ipv4_mapped(&v6).map_or(IpAddr::V6(v6), IpAddr::V4)),
        v4 => Some(v4),
    }
}

/// The addresses [`is_internal`] accepts, for error messages.
pub const INTERNAL_HOSTS: &str =
    "localhost, 127.0.0.0/8, ::1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_and_loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(h) && is_internal(h), "{h}");
        }
        for h in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.10.1",
            "fd12:3456::1",
            "[fc00::1]",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_internal(h) && !is_loopback(h), "{h}");
        }
        for h in [
            "hooks.example.jp",
            "localhost.example.jp",
            "8.8.8.8",
            "172.32.0.1",
            "192.169.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
            "",
        ] {
            assert!(!is_internal(h), "{h}");
        }
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        assert!(ExtraCa::load(&missing).unwrap_err().contains("読めません"));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert!(
            ExtraCa::load(&empty)
                .unwrap_err()
                .contains("証明書（BEGIN CERTIFICATE）がありません")
        );
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(ExtraCa::load(&broken).is_err());
    }
}
