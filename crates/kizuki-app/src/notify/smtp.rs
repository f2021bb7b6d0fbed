//! A small SMTP client for reminder e-mails: plain SMTP (RFC 5321) to one relay, no TLS and
//! no authentication. The tree has no TLS crate, so the supported setup is a local MTA
//! (postfix, exim, …) on the same host or network that accepts mail from kizuki and relays
//! it onwards with STARTTLS and whatever authentication the outside world needs.
//!
//! Messages are MIME (RFC 2045–2047): the Japanese subject as UTF-8 base64 encoded-words and
//! the UTF-8 body in base64, so the mail is 7-bit clean and passes any relay unchanged.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use kizuki_domain::user::Email;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Where and as whom to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub from: Email,
    /// The name kizuki gives in EHLO; the machine's role rather than a secret.
    pub helo: String,
    /// For each connect, read and write.
    pub timeout: Duration,
}

/// A delivery failure, with the SMTP step and the server's answer.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("SMTP {host}:{port} に接続できません / cannot connect: {source}")]
    Connect {
        host: String,
        port: u16,
        source: std::io::Error,
    },
    #[error("SMTP の {step} で時間切れ / timed out at {step}")]
    Timeout { step: &'static str },
    #[error("SMTP の {step} で入出力エラー / I/O error at {step}: {source}")]
    Io {
        step: &'static str,
        source: std::io::Error,
    },
    #[error("SMTP サーバが {step} を拒否しました / server refused {step}: {reply}")]
    Refused { step: &'static str, reply: String },
}

/// The longest UTF-8 chunk per encoded-word: `=?UTF-8?B?` + 60 base64 chars + `?=` stays
/// within RFC 2047's 75 characters.
const WORD_BYTES: usize = 45;

/// The subject as one or more `=?UTF-8?B?…?=` words, folded onto continuation lines, cut only
/// at character boundaries (a word must decode on its own).
pub fn encode_subject(s: &str) -> String {
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if i + c.len_utf8() - start > WORD_BYTES {
            words.push(&s[start..end]);
            start = i;
        }
        end = i + c.len_utf8();
    }
    if start < s.len() {
        words.push(&s[start..]);
    }
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", B64.encode(w.as_bytes())))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// The message as sent after DATA (headers, blank line, base64 body; CRLF line ends; no
/// terminating dot).
pub fn build_message(
    from: &Email,
    to: &[Email],
    subject: &str,
    body: &str,
    now: DateTime<Utc>,
    message_id: &str,
) -> String {
    let to_list = to
        .iter()
        .map(Email::as_str)
        .collect::<Vec<_>>()
        .join(",\r\n ");
    let encoded = B64.encode(body.as_bytes());
    let mut lines: Vec<&str> = Vec::new();
    let mut rest = encoded.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(76));
        lines.push(line);
        rest = tail;
    }
    format!(
        "From: kizuki <{from}>\r\n\
         To: {to_list}\r\n\
         Subject: {}\r\n\
         Date: {}\r\n\
         Message-ID: <{message_id}@kizuki>\r\n\
         Auto-Submitted: auto-generated\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {}\r\n",
        encode_subject(subject),
        now.to_rfc2822(),
        lines.join("\r\n"),
        from = from.as_str(),
    )
}

/// Lines starting with a dot get another (RFC 5321 §4.5.2), and the end-of-data marker.
fn dot_stuff(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 8);
    for line in message.split("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    // `split` yields a last empty piece after the final CRLF; that CRLF is already there.
    if out.ends_with("\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    out.push_str(".\r\n");
    out
}

struct Session<R> {
    reader: BufReader<R>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    timeout: Duration,
}

impl<R: AsyncRead + Unpin> Session<R> {
    /// Reads one reply (possibly multi-line) and checks its code's first digit.
    async fn reply(&mut self, step: &'static str, want: char) -> Result<String, SmtpError> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            // A reply line is at most 512 octets (RFC 5321 §4.5.3.1.5); cap what we buffer.
            let n = tokio::time::timeout(
                self.timeout,
                (&mut self.reader).take(2048).read_line(&mut line),
            )
            .await
            .map_err(|_| SmtpError::Timeout { step })?
            .map_err(|source| SmtpError::Io { step, source })?;
            if n == 0 {
                return Err(SmtpError::Refused {
                    step,
                    reply: format!("connection closed after {all:?}"),
                });
            }
            all.push_str(&line);
            // "250-…" continues, "250 …" (or a bare "250") ends the reply.
            if line.as_bytes().get(3).is_none_or(|&b| b != b'-') {
                break;
            }
        }
        if all.starts_with(want) {
            Ok(all)
        } else {
            Err(SmtpError::Refused {
                step,
                reply: all.trim_end().to_owned(),
            })
        }
    }

    async fn send(&mut self, step: &'static str, text: &str) -> Result<(), SmtpError> {
        tokio::time::timeout(self.timeout, self.writer.write_all(text.as_bytes()))
            .await
            .map_err(|_| SmtpError::Timeout { step })?
            .map_err(|source| SmtpError::Io { step, source })
    }

    async fn command(
        &mut self,
        step: &'static str,
        text: &str,
        want: char,
    ) -> Result<String, SmtpError> {
        self.send(step, text).await?;
        self.reply(step, want).await
    }
}

/// Sends one message to all of `to` in one SMTP transaction. Every recipient must be
/// accepted; a refused one fails the delivery (so it is retried rather than half-sent).
pub async fn send(cfg: &SmtpConfig, to: &[Email], message: &str) -> Result<(), SmtpError> {
    let stream = tokio::time::timeout(
        cfg.timeout,
        TcpStream::connect((cfg.host.as_str(), cfg.port)),
    )
    .await
    .map_err(|_| SmtpError::Timeout { step: "connect" })?
    .map_err(|source| SmtpError::Connect {
        host: cfg.host.clone(),
        port: cfg.port,
        source,
    })?;
    let (read, writer) = stream.into_split();
    let mut s = Session {
        reader: BufReader::new(read),
        writer,
        timeout: cfg.timeout,
    };
    s.reply("greeting", '2').await?;
    s.command("EHLO", &format!("EHLO {}\r\n", cfg.helo), '2')
        .await?;
    s.command("MAIL FROM", &format!("MAIL FROM:<{}>\r\n", cfg.from), '2')
        .await?;
    for rcpt in to {
        s.command("RCPT TO", &format!("RCPT TO:<{rcpt}>\r\n"), '2')
            .await?;
    }
    s.command("DATA", "DATA\r\n", '3').await?;
    s.command("message", &dot_stuff(message), '2').await?;
    // The message is accepted once the server said 250 to the data; QUIT is a courtesy.
    let _ = s.command("QUIT", "QUIT\r\n", '2').await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_words(header: &str) -> String {
        let mut out = Vec::new();
        for w in header.split_whitespace() {
            let inner = w
                .strip_prefix("=?UTF-8?B?")
                .unwrap()
                .strip_suffix("?=")
                .unwrap();
            out.extend(B64.decode(inner).unwrap());
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn subject_words_are_short_and_decode_to_the_subject() {
        let s = "【kizuki】報告番号 12 の続報の提出期限が近づいています / Report 12: follow-up report due soon";
        let enc = encode_subject(s);
        assert!(enc.contains("\r\n "), "long subjects are folded: {enc}");
        for w in enc.split("\r\n ") {
            assert!(w.len() <= 75, "{w} is {} long", w.len());
        }
        assert_eq!(decode_words(&enc), s);
        assert_eq!(decode_words(&encode_subject("短い")), "短い");
    }

    #[test]
    fn dot_stuffing_and_terminator() {
        assert_eq!(dot_stuff("a\r\n.b\r\n"), "a\r\n..b\r\n.\r\n");
        assert_eq!(dot_stuff("a\r\n"), "a\r\n.\r\n");
    }

    #[test]
    fn message_is_seven_bit_and_body_decodes() {
        let from = Email::parse("kizuki@centre.example.jp").unwrap();
        let to = vec![Email::parse("a@op.example.jp").unwrap()];
        let now = chrono::TimeZone::with_ymd_and_hms(&Utc, 2019, 5, 1, 0, 0, 0).unwrap();
        let m = build_message(&from, &to, "件名", "本文です。\n令和元年", now, "abc");
        assert!(m.is_ascii());
        let (head, body) = m.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("Content-Transfer-Encoding: base64"));
        let joined: String = body.split("\r\n").collect();
        let text = String::from_utf8(B64.decode(joined).unwrap()).unwrap();
        assert_eq!(text, "本文です。\n令和元年");
    }
}
