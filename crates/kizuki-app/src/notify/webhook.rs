//! The outbound webhook: a JSON POST signed with HMAC-SHA256 of the exact body bytes, in
//! the header `X-Kizuki-Signature: sha256=<hex>`, retried with a growing pause.
//!
//! Plain `http://` only: the tree has no TLS crate, so an `https://` receiver is reached
//! through a local forwarding proxy (nginx, stunnel, …) that kizuki posts to over http. The
//! signature still proves the body came from a holder of the secret and was not changed.
//! The HTTP/1.1 exchange is written here (one request, `Connection: close`, status line
//! read) rather than pulling in an HTTP client stack for one POST.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub const SIGNATURE_HEADER: &str = "X-Kizuki-Signature";

/// Where to post and the shared secret; `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: HttpUrl,
    pub secret: String,
    /// Attempts within one delivery before giving the reminder back for a later run.
    pub attempts: u32,
    /// The pause before the second attempt; it doubles after each failure.
    pub backoff: Duration,
    pub timeout: Duration,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url.to_string())
            .field("secret", &"<set, not shown>")
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// An `http://host[:port][/path]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl std::fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}:{}{}", self.host, self.port, self.path)
    }
}

impl HttpUrl {
    /// Errors are Japanese first and name what is wrong.
    pub fn parse(s: &str) -> Result<HttpUrl, String> {
        let s = s.trim();
        if s.starts_with("https://") {
            return Err(format!(
                "「{s}」: https は直接送れません。ローカルの中継（nginx、stunnel など）の http:// を指定してください / https is not supported directly; post to a local forwarding proxy over http://"
            ));
        }
        let rest = s.strip_prefix("http://").ok_or_else(|| {
            format!("「{s}」は http:// で始まる URL ではありません / '{s}' is not an http:// URL")
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port = p
                    .parse()
                    .map_err(|_| format!("「{s}」のポート番号が不正です / bad port in '{s}'"))?;
                (h, port)
            }
            _ => (authority, 80),
        };
        let bad = |c: char| c.is_whitespace() || c.is_control();
        if host.is_empty() || host.contains(bad) || path.contains(bad) {
            return Err(format!(
                "「{s}」のホストまたはパスが不正です / bad host or path in '{s}'"
            ));
        }
        Ok(HttpUrl {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            path: path.to_owned(),
        })
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
    #[error("webhook {url}: 送信できません / cannot post: {source}")]
    Io { url: String, source: std::io::Error },
    #[error("webhook {url}: 応答 {status} / answered {status}")]
    Status { url: String, status: String },
}

async fn post_once(cfg: &WebhookConfig, event: &str, body: &[u8]) -> Result<(), WebhookError> {
    let url = cfg.url.to_string();
    let io = |source| WebhookError::Io {
        url: url.clone(),
        source,
    };
    let exchange = async {
        let mut stream = TcpStream::connect((cfg.url.host.as_str(), cfg.url.port))
            .await
            .map_err(io)?;
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: kizuki\r\n\
             Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\
             X-Kizuki-Event: {event}\r\n{SIGNATURE_HEADER}: {}\r\nConnection: close\r\n\r\n",
            cfg.url.path,
            cfg.url.host,
            body.len(),
            signature(&cfg.secret, body),
        );
        stream.write_all(head.as_bytes()).await.map_err(io)?;
        stream.write_all(body).await.map_err(io)?;
        stream.flush().await.map_err(io)?;
        let mut status = String::new();
        BufReader::new(stream)
            .take(1024)
            .read_line(&mut status)
            .await
            .map_err(io)?;
        // "HTTP/1.1 204 No Content": any 2xx is a delivery.
        let code = status.split_whitespace().nth(1).unwrap_or("");
        if code.starts_with('2') && code.len() == 3 {
            Ok(())
        } else {
            Err(WebhookError::Status {
                url: url.clone(),
                status: if status.trim().is_empty() {
                    "（応答なし / no answer）".into()
                } else {
                    status.trim().to_owned()
                },
            })
        }
    };
    tokio::time::timeout(cfg.timeout, exchange)
        .await
        .map_err(|_| WebhookError::Timeout { url: url.clone() })?
}

/// Posts `body`, retrying up to `cfg.attempts` times with a doubling pause. Returns the last
/// error when every attempt failed; each failure is logged.
pub async fn post(cfg: &WebhookConfig, event: &str, body: &[u8]) -> Result<(), WebhookError> {
    let mut pause = cfg.backoff;
    let mut attempt = 1;
    loop {
        match post_once(cfg, event, body).await {
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
        let u = HttpUrl::parse("http://127.0.0.1:9000/hooks/kizuki").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 9000, "/hooks/kizuki")
        );
        let u = HttpUrl::parse("http://hooks.example.jp").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        assert!(
            HttpUrl::parse("https://hooks.example.jp/")
                .unwrap_err()
                .contains("https")
        );
        assert!(HttpUrl::parse("ftp://x/").is_err());
        assert!(
            HttpUrl::parse("http://x:port/")
                .unwrap_err()
                .contains("ポート")
        );
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
