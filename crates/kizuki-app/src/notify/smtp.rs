//! Reminder and notice e-mail: the MIME message and its delivery to one SMTP relay with
//! lettre, over STARTTLS or implicit TLS (rustls on ring) with AUTH PLAIN or LOGIN.
//!
//! The certificate is always verified, against the system's roots and `[smtp] ca_file`
//! ([`super::tls`]). Plain SMTP (`tls = "none"`) is for a relay on the same host or, when
//! acknowledged, the internal network; the configuration refuses it elsewhere and never sends
//! a password over it.
//!
//! lettre writes the message: the Japanese subject as UTF-8 encoded-words and the UTF-8 body in
//! quoted-printable or base64, whichever is shorter, so the mail is 7-bit clean and passes any
//! relay unchanged.

use super::tls::ExtraCa;
use chrono::{DateTime, Utc};
use kizuki_domain::user::Email;
use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use std::time::Duration;

/// How the connection to the relay is protected: `tls` in `[smtp]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpTls {
    /// Plain first, then STARTTLS, which the relay must offer (port 587 by default).
    #[default]
    StartTls,
    /// TLS from the first byte, "SMTPS" (port 465 by default).
    Implicit,
    /// No encryption (port 25 by default): a relay on loopback or, acknowledged, inside.
    None,
}

impl SmtpTls {
    /// The value in `kizuki.toml`.
    pub fn parse(s: &str) -> Option<SmtpTls> {
        match s.trim() {
            "starttls" => Some(SmtpTls::StartTls),
            "implicit" => Some(SmtpTls::Implicit),
            "none" => Some(SmtpTls::None),
            _ => None,
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::StartTls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        }
    }
}

/// The account kizuki authenticates as; `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpAuth {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SmtpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpAuth")
            .field("username", &self.username)
            .field("password", &"<set, not shown>")
            .finish()
    }
}

/// Where and as whom to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// CA certificates trusted beside the system's (`ca_file`).
    pub ca: Option<ExtraCa>,
    /// AUTH PLAIN or LOGIN, whichever the relay offers, when set.
    pub auth: Option<SmtpAuth>,
    pub from: Email,
    /// The name kizuki gives in EHLO; the machine's role rather than a secret.
    pub helo: String,
    /// For the connection and for each step after it.
    pub timeout: Duration,
}

/// A delivery failure, with the step and the cause.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("メールを組み立てられません / cannot build the message: {source}")]
    Message { source: lettre::error::Error },
    #[error("「{address}」はメールアドレスとして送れません / cannot send to '{address}': {source}")]
    Address {
        address: String,
        source: lettre::address::AddressError,
    },
    #[error("SMTP {host}:{port} に接続できません / cannot connect: {source}")]
    Connect {
        host: String,
        port: u16,
        source: lettre::transport::smtp::Error,
    },
    #[error("SMTP の {step} で時間切れ / timed out at {step}")]
    Timeout { step: &'static str },
    #[error(
        "SMTP の {step} で TLS 接続を確立できません（サーバ証明書を確認してください。社内 CA なら smtp.ca_file） / TLS failed at {step} (check the server's certificate; for an internal CA set smtp.ca_file): {source}"
    )]
    Tls {
        step: &'static str,
        source: lettre::transport::smtp::Error,
    },
    #[error(
        "SMTP サーバ {host} が STARTTLS を提供していません（tls = \"implicit\" か中継の設定を確認） / the server does not offer STARTTLS"
    )]
    NoStartTls { host: String },
    #[error(
        "SMTP の AUTH（認証）に失敗しました（smtp.username とパスワードを確認してください） / AUTH failed (check smtp.username and the password): {source}"
    )]
    Auth {
        source: lettre::transport::smtp::Error,
    },
    #[error("SMTP サーバが {step} を拒否しました / server refused {step}: {source}")]
    Refused {
        step: &'static str,
        source: lettre::transport::smtp::Error,
    },
}

/// `Auto-Submitted: auto-generated` (RFC 3834): no vacation replies to reminders.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

fn mailbox(name: Option<&str>, email: &Email) -> Result<Mailbox, SmtpError> {
    let address = email
        .as_str()
        .parse()
        .map_err(|source| SmtpError::Address {
            address: email.as_str().to_owned(),
            source,
        })?;
    Ok(Mailbox::new(name.map(str::to_owned), address))
}

/// The message from `from` to all of `to`, dated `now`, with `Message-ID: <message_id@kizuki>`;
/// the envelope is its From and To.
pub fn build_message(
    from: &Email,
    to: &[Email],
    subject: &str,
    body: &str,
    now: DateTime<Utc>,
    message_id: &str,
) -> Result<Message, SmtpError> {
    let mut builder = Message::builder()
        .from(mailbox(Some("kizuki"), from)?)
        .subject(subject)
        .date(now.into())
        .message_id(Some(format!("<{message_id}@kizuki>")))
        .header(AutoSubmitted)
        .header(ContentType::TEXT_PLAIN);
    for rcpt in to {
        builder = builder.to(mailbox(None, rcpt)?);
    }
    builder
        .body(body.to_owned())
        .map_err(|source| SmtpError::Message { source })
}

/// Runs one step of the dialogue within the timeout; a TLS failure is reported as one,
/// anything else through `wrap`.
async fn step<T>(
    cfg: &SmtpConfig,
    step: &'static str,
    fut: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    wrap: impl FnOnce(lettre::transport::smtp::Error) -> SmtpError,
) -> Result<T, SmtpError> {
    match tokio::time::timeout(cfg.timeout, fut).await {
        Err(_) => Err(SmtpError::Timeout { step }),
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) if super::tls::is_tls_failure(&source) => {
            Err(SmtpError::Tls { step, source })
        }
        Ok(Err(source)) => Err(wrap(source)),
    }
}

/// The TLS parameters for the relay: its host name (or address) checked against the
/// certificate, the system's roots and `ca_file`.
fn tls_parameters(cfg: &SmtpConfig) -> Result<TlsParameters, SmtpError> {
    let mut builder = TlsParameters::builder(cfg.host.clone());
    for cert in cfg.ca.as_ref().map(ExtraCa::certs).unwrap_or_default() {
        let cert = Certificate::from_der(cert.to_vec()).map_err(|source| SmtpError::Tls {
            step: "ca_file",
            source,
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build_rustls().map_err(|source| SmtpError::Tls {
        step: "ca_file",
        source,
    })
}

/// Delivers `message` to its envelope's recipients in one SMTP transaction. Every recipient
/// must be accepted; a refused one fails the delivery (so it is retried rather than half-sent).
pub async fn send(cfg: &SmtpConfig, message: &Message) -> Result<(), SmtpError> {
    let hello = ClientId::Domain(cfg.helo.clone());
    let implicit = match cfg.tls {
        SmtpTls::Implicit => Some(tls_parameters(cfg)?),
        SmtpTls::StartTls | SmtpTls::None => None,
    };
    let connect = AsyncSmtpConnection::connect_tokio1(
        (cfg.host.as_str(), cfg.port),
        Some(cfg.timeout),
        &hello,
        implicit,
        None,
    );
    let mut conn = step(cfg, "connect", connect, |source| SmtpError::Connect {
        host: cfg.host.clone(),
        port: cfg.port,
        source,
    })
    .await?;
    if cfg.tls == SmtpTls::StartTls {
        if !conn.can_starttls() {
            conn.abort().await;
            return Err(SmtpError::NoStartTls {
                host: cfg.host.clone(),
            });
        }
        let params = tls_parameters(cfg)?;
        step(cfg, "STARTTLS", conn.starttls(params, &hello), |source| {
            SmtpError::Refused {
                step: "STARTTLS",
                source,
            }
        })
        .await?;
    }
    if let Some(auth) = &cfg.auth {
        let credentials = Credentials::new(auth.username.clone(), auth.password.clone());
        let mechanisms = [Mechanism::Plain, Mechanism::Login];
        step(
            cfg,
            "AUTH",
            conn.auth(&mechanisms, &credentials),
            |source| SmtpError::Auth { source },
        )
        .await?;
    }
    let data = message.formatted();
    step(
        cfg,
        "MAIL/RCPT/DATA",
        conn.send(message.envelope(), &data),
        |source| SmtpError::Refused {
            step: "MAIL/RCPT/DATA",
            source,
        },
    )
    .await?;
    // The message is accepted once the server said 250 to the data; QUIT is a courtesy.
    let _ = tokio::time::timeout(cfg.timeout, conn.quit()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_seven_bit_and_decodes_to_subject_and_body() {
        let from = Email::parse("kizuki@centre.example.jp").unwrap();
        let to = vec![
            Email::parse("a@op.example.jp").unwrap(),
            Email::parse("b@op.example.jp").unwrap(),
        ];
        let now = chrono::TimeZone::with_ymd_and_hms(&Utc, 2019, 5, 1, 0, 0, 0).unwrap();
        let subject = "【kizuki】報告番号 12 の続報の提出期限が近づいています / Report 12: follow-up report due soon";
        let m = build_message(&from, &to, subject, "本文です。\n令和元年", now, "abc").unwrap();
        let raw = m.formatted();
        assert!(raw.is_ascii());
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.subject(), Some(subject));
        assert_eq!(
            parsed.body_text(0).unwrap().replace("\r\n", "\n"),
            "本文です。\n令和元年"
        );
        assert_eq!(parsed.message_id(), Some("abc@kizuki"));
        assert_eq!(
            parsed.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-generated")
        );
        let envelope = m.envelope();
        assert_eq!(
            envelope.from().unwrap().to_string(),
            "kizuki@centre.example.jp"
        );
        let rcpts: Vec<String> = envelope.to().iter().map(ToString::to_string).collect();
        assert_eq!(rcpts, ["a@op.example.jp", "b@op.example.jp"]);
    }

    #[test]
    fn modes_and_default_ports() {
        assert_eq!(SmtpTls::parse("starttls"), Some(SmtpTls::StartTls));
        assert_eq!(SmtpTls::parse("implicit"), Some(SmtpTls::Implicit));
        assert_eq!(SmtpTls::parse("none"), Some(SmtpTls::None));
        assert_eq!(SmtpTls::parse("ssl"), None);
        assert_eq!(SmtpTls::default(), SmtpTls::StartTls);
        let ports =
            [SmtpTls::StartTls, SmtpTls::Implicit, SmtpTls::None].map(SmtpTls::default_port);
        assert_eq!(ports, [587, 465, 25]);
        let auth = SmtpAuth {
            username: "kizuki".into(),
            password: "hunter2-secret".into(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
