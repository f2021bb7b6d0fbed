//! The outbound webhook: a JSON POST signed with HMAC-SHA256 of the exact body bytes, in
//! the header `X-Kizuki-Signature: sha256=<hex>`, sent with reqwest over HTTPS (rustls on
//! ring) and retried with a growing pause.
//!
//! The receiver's certificate is always verified, against the system's roots and
//! `[webhook] ca_file` ([`super::tls`]). Plain `http://` is accepted only when `allow_http` is
//! set and the host is loopback or a private address; redirects are not followed (the signed
//! body goes nowhere else) and no proxy from the environment is used.

use super::tls::ExtraCa;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;

pub const SIGNATURE_HEADER: &str = "X-Kizuki-Signature";

/// Where to post and the shared secret; `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: WebhookUrl,
    pub secret: String,
    /// CA certificates trusted beside the system's (`ca_file`).
    pub ca: Option<ExtraCa>,
    /// Attempts within one delivery before giving the reminder back for a later run.
    pub attempts: u32,
    /// The pause before the second attempt; it doubles after each failure.
    pub backoff: Duration,
    /// For the connection and for the whole exchange.
    pub timeout: Duration,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url.to_string())
            .field("secret", &"<set, not shown>")
            .field("ca", &self.ca)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// An `https://` URL, or an `http://` one to a loopback or private address when allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(reqwest::Url);

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl WebhookUrl {
    /// `allow_http` is `[webhook] allow_http`. Errors are Japanese first and name what is wrong.
    pub fn parse(s: &str, allow_http: bool) -> Result<WebhookUrl, String> {
        let s = s.trim();
        let url = reqwest::Url::parse(s)
            .map_err(|e| format!("「{s}」は URL として読めません / '{s}' is not a URL: {e}"))?;
        let host = url.host_str().unwrap_or_default();
        match url.scheme() {
            "https" if !host.is_empty() => Ok(WebhookUrl(url)),
            "http" if !allow_http => Err(format!(
                "「{s}」: 暗号化なしの http:// は allow_http = true の場合だけ使えます（社内の受信先に限ります）。https:// を指定してください / plain http:// needs allow_http = true (internal receivers only); use https://"
            )),
            "http" if super::tls::is_internal(host) => Ok(WebhookUrl(url)),
            "http" => Err(format!(
                "「{s}」: http:// はループバックか社内アドレス（{}）宛てだけです。https:// を指定してください / plain http:// only to a loopback or private address; use https://",
                super::tls::INTERNAL_HOSTS
            )),
            _ => Err(format!(
                "「{s}」は https:// で始まる URL ではありません / '{s}' is not an https:// URL"
            )),
        }
    }

    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }
}

/// `sha256=<hex>` of HMAC-SHA256(secret, body): what the header carries.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail; the fallback keeps it total.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("sha256={}", hex::encode(tag))
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook {url}: 時間切れ / timed out")]
    Timeout { url: String },
    #[error(
        "webhook {url}: TLS 接続を確立できません（受信先の証明書を確認してください。社内 CA なら webhook.ca_file） / TLS failed (check the receiver's certificate; for an internal CA set webhook.ca_file): {}",
        causes(.source)
    )]
    Tls { url: String, source: reqwest::Error },
    #[error("webhook {url}: 送信できません / cannot post: {}", causes(.source))]
    Send { url: String, source: reqwest::Error },
    #[error("webhook {url}: 応答 {status} / answered {status}")]
    Status { url: String, status: String },
    #[error("webhook の TLS 設定を作れません / cannot set up TLS: {source}")]
    TlsSetup { source: rustls::Error },
    #[error("webhook の HTTP クライアントを作れません / cannot set up the HTTP client: {}", causes(.source))]
    Client { source: reqwest::Error },
}

/// `e` and its causes on one line: reqwest's own message names only the step
/// ("error sending request"), the reason (a refused certificate, a closed port) is below it.
fn causes(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// One client per delivery, its retries included; connections are not kept between posts.
fn client(cfg: &WebhookConfig) -> Result<reqwest::Client, WebhookError> {
    let tls = super::tls::client_config(cfg.ca.as_ref())
        .map_err(|source| WebhookError::TlsSetup { source })?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .https_only(cfg.url.is_https())
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(0)
        .connect_timeout(cfg.timeout)
        .timeout(cfg.timeout)
        .user_agent("kizuki")
        .build()
        .map_err(|source| WebhookError::Client { source })
}

async fn post_once(
    client: &reqwest::Client,
    cfg: &WebhookConfig,
    event: &str,
    body: &[u8],
) -> Result<(), WebhookError> {
    let url = cfg.url.to_string();
    let response = client
        .post(cfg.url.0.clone())
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .header("X-Kizuki-Event", event)
        .header(SIGNATURE_HEADER, signature(&cfg.secret, body))
        .body(body.to_vec())
        .send()
        .await
        .map_err(|source| {
            if source.is_timeout() {
                WebhookError::Timeout { url: url.clone() }
            } else if super::tls::is_tls_failure(&source) {
                WebhookError::Tls {
                    url: url.clone(),
                    source,
                }
            } else {
                WebhookError::Send {
                    url: url.clone(),
                    source,
                }
            }
        })?;
    // Any 2xx is a delivery.
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(WebhookError::Status {
            url,
            status: status.to_string(),
        })
    }
}

/// Posts `body`, retrying up to `cfg.attempts` times with a doubling pause. Returns the last
/// error when every attempt failed; each failure is logged.
pub async fn post(cfg: &WebhookConfig, event: &str, body: &[u8]) -> Result<(), WebhookError> {
    let client = client(cfg)?;
    let mut pause = cfg.backoff;
    let mut attempt = 1;
    loop {
        match post_once(&client, cfg, event, body).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt >= cfg.attempts.max(1) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, attempt, "webhook delivery failed; retrying");
                tokio::time::sleep(pause).await;
                pause = pause.saturating_mul(2);
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = WebhookUrl::parse("https://hooks.example.jp/kizuki", false).unwrap();
        assert!(u.is_https());
        assert_eq!(u.to_string(), "https://hooks.example.jp/kizuki");
        let u = WebhookUrl::parse("http://127.0.0.1:9000/hooks/kizuki", true).unwrap();
        assert!(!u.is_https());
        assert_eq!(u.to_string(), "http://127.0.0.1:9000/hooks/kizuki");
        for internal in [
            "http://localhost/",
            "http://[::1]:8080/",
            "http://10.0.0.7/",
            "http://172.20.1.1/",
            "http://192.168.1.20/",
            "http://[fd00::5]/",
        ] {
            assert!(WebhookUrl::parse(internal, true).is_ok(), "{internal}");
        }
        // http:// needs the flag, even to loopback…
        let e = WebhookUrl::parse("http://127.0.0.1:9000/", false).unwrap_err();
        assert!(e.contains("allow_http"), "{e}");
        // …and with it, still only an internal host.
        for outside in [
            "http://hooks.example.jp/",
            "http://8.8.8.8/",
            "http://172.32.0.1/",
        ] {
            let e = WebhookUrl::parse(outside, true).unwrap_err();
            assert!(e.contains("ループバックか社内アドレス"), "{outside}: {e}");
        }
        assert!(
            WebhookUrl::parse("ftp://x/", true)
                .unwrap_err()
                .contains("https://")
        );
        assert!(
            WebhookUrl::parse("not a url", true)
                .unwrap_err()
                .contains("URL")
        );
        assert!(WebhookUrl::parse("https://x:port/", false).is_err());
    }

    #[test]
    fn signature_depends_on_secret_and_body() {
        let a = signature("s3cret", b"{\"a\":1}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64, "{a}");
        assert_ne!(a, signature("other", b"{\"a\":1}"));
        assert_ne!(a, signature("s3cret", b"{\"a\":2}"));
        assert_eq!(a, signature("s3cret", b"{\"a\":1}"));
    }
}
