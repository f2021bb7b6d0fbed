//! Local receivers for what the reminders send, on 127.0.0.1 with a port of their own: an SMTP
//! sink that can require STARTTLS or implicit TLS and AUTH (PLAIN, LOGIN), and a webhook
//! receiver over http or https, both with certificates from a [`TestCa`]. Each records what
//! arrived (and how) and can refuse the first few on purpose.

use crate::tls::TestCa;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A connection, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Conn = BufReader<Box<dyn Io>>;

/// `stream` as a [`Conn`], after a TLS handshake when `tls` is given; `None` when the handshake
/// failed (the client refused the certificate), counted in `failures`.
async fn open(stream: Box<dyn Io>, tls: Option<&TestCa>, failures: &Mutex<usize>) -> Option<Conn> {
    let Some(ca) = tls else {
        return Some(BufReader::new(stream));
    };
    match ca.acceptor().accept(stream).await {
        Ok(s) => Some(BufReader::new(Box::new(s))),
        Err(_) => {
            *failures.lock().unwrap() += 1;
            None
        }
    }
}

/// Writes `text` and flushes it through TLS; `None` when the client is gone.
async fn say(conn: &mut Conn, text: &str) -> Option<()> {
    let w = conn.get_mut();
    w.write_all(text.as_bytes()).await.ok()?;
    w.flush().await.ok()
}

/// The next line, CRLF included; `None` at the end of the connection.
async fn line(conn: &mut Conn) -> Option<String> {
    let mut l = String::new();
    match conn.read_line(&mut l).await {
        Ok(n) if n > 0 => Some(l),
        _ => None,
    }
}

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope sender, as given (`<a@b>`).
    pub from: String,
    /// The envelope recipients, as given (`<a@b>`).
    pub to: Vec<String>,
    /// The message, dot-unstuffed.
    pub data: String,
    /// Whether it came over TLS (STARTTLS or implicit).
    pub tls: bool,
    /// The user name the session authenticated as.
    pub login: Option<String>,
}

impl Mail {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(self.data.as_bytes())
            .unwrap_or_else(|| panic!("not a message: {}", self.data))
    }

    /// Header `name` (any case) as sent, unfolded; panics when missing.
    pub fn header(&self, name: &str) -> String {
        let parsed = self.parsed();
        let raw = parsed
            .header_raw(name)
            .unwrap_or_else(|| panic!("no {name} header"));
        raw.split(['\r', '\n'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The subject decoded from its RFC 2047 encoded-words.
    pub fn subject(&self) -> String {
        let parsed = self.parsed();
        parsed.subject().expect("no subject").to_owned()
    }

    /// The body decoded from whichever transfer encoding was used (quoted-printable, base64
    /// or none), with LF line ends.
    pub fn body(&self) -> String {
        let parsed = self.parsed();
        parsed
            .body_text(0)
            .expect("no text body")
            .replace("\r\n", "\n")
    }
}

/// A login the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// `PLAIN` or `LOGIN`.
    pub mechanism: String,
    pub username: String,
    pub password: String,
}

/// What the SMTP sink received.
#[derive(Debug, Default)]
pub struct Sink {
    pub mails: Mutex<Vec<Mail>>,
    /// Transactions still to refuse with a temporary failure.
    pub refuse: Mutex<usize>,
    /// Logins accepted.
    pub logins: Mutex<Vec<Login>>,
    /// AUTH attempts refused with 535.
    pub refused_logins: Mutex<usize>,
    /// Connections whose TLS handshake failed.
    pub tls_failures: Mutex<usize>,
}

/// When the sink speaks TLS.
#[derive(Debug, Clone, Default)]
pub enum SinkTls {
    #[default]
    None,
    /// Offers STARTTLS, and AUTH only after it.
    StartTls(TestCa),
    /// TLS from the first byte.
    Implicit(TestCa),
}

/// How the SMTP sink behaves.
#[derive(Debug, Clone, Default)]
pub struct SmtpSinkOptions {
    /// Transactions to refuse with 451 first.
    pub refuse: usize,
    pub tls: SinkTls,
    /// The one account it accepts (user name, password); when set, mail needs AUTH first.
    pub account: Option<(String, String)>,
    /// The AUTH mechanisms offered; empty means PLAIN and LOGIN.
    pub mechanisms: Vec<&'static str>,
}

/// Starts a plain SMTP sink that refuses the first `refuse` transactions with 451; its port
/// and what it received.
pub async fn smtp_sink(refuse: usize) -> (u16, Arc<Sink>) {
    smtp_sink_with(SmtpSinkOptions {
        refuse,
        ..SmtpSinkOptions::default()
    })
    .await
}

/// Starts an SMTP sink that speaks enough for a client (greeting, EHLO, STARTTLS, AUTH PLAIN
/// and LOGIN, MAIL, RCPT, DATA dot-unstuffed, QUIT) as `options` say; its port and what it
/// received.
pub async fn smtp_sink_with(options: SmtpSinkOptions) -> (u16, Arc<Sink>) {
    let sink = Arc::new(Sink {
        refuse: Mutex::new(options.refuse),
        ..Sink::default()
    });
    let options = Arc::new(options);
    let s = sink.clone();
    let port = listen(move |stream| smtp_session(stream, s.clone(), options.clone())).await;
    (port, sink)
}

/// One client's SMTP session; ends quietly when the client goes away.
async fn smtp_session(stream: TcpStream, sink: Arc<Sink>, opts: Arc<SmtpSinkOptions>) {
    let implicit = match &opts.tls {
        SinkTls::Implicit(ca) => Some(ca),
        _ => None,
    };
    let Some(mut conn) = open(Box::new(stream), implicit, &sink.tls_failures).await else {
        return;
    };
    let mut tls = implicit.is_some();
    let mut login: Option<String> = None;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mechanisms = if opts.mechanisms.is_empty() {
        vec!["PLAIN", "LOGIN"]
    } else {
        opts.mechanisms.clone()
    };
    let tls_wanted = !matches!(opts.tls, SinkTls::None);
    if say(&mut conn, "220 sink.test ESMTP\r\n").await.is_none() {
        return;
    }
    while let Some(l) = line(&mut conn).await {
        let upper = l.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        let reply: String = match verb {
            "EHLO" => {
                let mut lines = vec!["sink.test".to_owned(), "8BITMIME".to_owned()];
                if let SinkTls::StartTls(_) = &opts.tls
                    && !tls
                {
                    lines.push("STARTTLS".into());
                }
                if opts.account.is_some() && (tls || !tls_wanted) {
                    lines.push(format!("AUTH {}", mechanisms.join(" ")));
                }
                let last = lines.len() - 1;
                lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' }))
                    .collect()
            }
            "STARTTLS" => {
                let SinkTls::StartTls(ca) = &opts.tls else {
                    say(&mut conn, "502 5.5.1 not offered\r\n").await;
                    continue;
                };
                if tls {
                    "503 5.5.1 already in TLS\r\n".into()
                } else {
                    if say(&mut conn, "220 2.0.0 go ahead\r\n").await.is_none() {
                        return;
                    }
                    let plain = conn.into_inner();
                    let Some(upgraded) = open(plain, Some(ca), &sink.tls_failures).await else {
                        return;
                    };
                    // RFC 3207: the client starts over with EHLO; nothing said before counts.
                    conn = upgraded;
                    tls = true;
                    login = None;
                    continue;
                }
            }
            "AUTH" => {
                if tls_wanted && !tls {
                    "530 5.7.0 must issue STARTTLS first\r\n".into()
                } else {
                    match auth(&mut conn, &l, &mechanisms, &opts, &sink).await {
                        Some(Ok(user)) => {
                            login = Some(user);
                            "235 2.7.0 authenticated\r\n".into()
                        }
                        Some(Err(reply)) => reply.into(),
                        None => return,
                    }
                }
            }
            "MAIL" if opts.account.is_some() && login.is_none() => {
                "530 5.7.0 authentication required\r\n".into()
            }
            "MAIL" => {
                let mut n = sink.refuse.lock().unwrap();
                if *n > 0 {
                    *n -= 1;
                    "451 4.3.0 try again later\r\n".into()
                } else {
                    from = l[10..].trim().to_owned();
                    to.clear();
                    "250 ok\r\n".into()
                }
            }
            "RCPT" => {
                to.push(l[8..].trim().to_owned());
                "250 ok\r\n".into()
            }
            "DATA" => {
                if say(&mut conn, "354 end with .\r\n").await.is_none() {
                    return;
                }
                let mut data = String::new();
                loop {
                    let Some(l) = line(&mut conn).await else {
                        return;
                    };
                    if l == ".\r\n" {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                sink.mails.lock().unwrap().push(Mail {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                    tls,
                    login: login.clone(),
                });
                "250 queued\r\n".into()
            }
            "QUIT" => {
                let _ = say(&mut conn, "221 bye\r\n").await;
                return;
            }
            _ => "500 what?\r\n".into(),
        };
        if say(&mut conn, &reply).await.is_none() {
            return;
        }
    }
}

/// `AUTH PLAIN [initial]` or `AUTH LOGIN [user]`, with the challenges it needs: the user name
/// when the account matches, else the reply to give; `None` when the client went away.
async fn auth(
    conn: &mut Conn,
    command: &str,
    offered: &[&str],
    opts: &SmtpSinkOptions,
    sink: &Sink,
) -> Option<Result<String, &'static str>> {
    let mut words = command.split_whitespace().skip(1);
    let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
    let initial = words.next().map(str::to_owned);
    if !offered.contains(&mechanism.as_str()) {
        return Some(Err("504 5.5.4 mechanism not offered\r\n"));
    }
    let decode = |b64: &str| {
        B64.decode(b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    };
    // The client's answer to a challenge (`334 <base64 prompt>`).
    async fn answer(conn: &mut Conn, prompt: &str) -> Option<String> {
        say(conn, &format!("334 {prompt}\r\n")).await?;
        line(conn).await
    }
    let (username, password) = if mechanism == "PLAIN" {
        let response = match initial {
            Some(r) => r,
            None => answer(conn, "").await?,
        };
        // authzid NUL authcid NUL password
        let text = decode(&response).unwrap_or_default();
        let mut parts = text.split('\0').skip(1);
        (
            parts.next().unwrap_or_default().to_owned(),
            parts.next().unwrap_or_default().to_owned(),
        )
    } else {
        let user = match initial {
            Some(u) => u,
            None => answer(conn, &B64.encode("Username:")).await?,
        };
        let pass = answer(conn, &B64.encode("Password:")).await?;
        (
            decode(&user).unwrap_or_default(),
            decode(&pass).unwrap_or_default(),
        )
    };
    let accepted = opts
        .account
        .as_ref()
        .is_some_and(|(u, p)| *u == username && *p == password);
    if accepted {
        sink.logins.lock().unwrap().push(Login {
            mechanism,
            username: username.clone(),
            password,
        });
        Some(Ok(username))
    } else {
        *sink.refused_logins.lock().unwrap() += 1;
        Some(Err("535 5.7.8 authentication credentials invalid\r\n"))
    }
}

/// One webhook post the receiver got.
#[derive(Debug, Clone)]
pub struct Hook {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Hook {
    /// Header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// What a receiver does: recompute the HMAC of the raw body under `secret` and compare it
    /// with `X-Kizuki-Signature` in constant time.
    pub fn verify(&self, secret: &str) -> bool {
        let Some(sig) = self.header("X-Kizuki-Signature") else {
            return false;
        };
        let Some(hex) = sig.strip_prefix("sha256=") else {
            return false;
        };
        let Ok(tag) = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("?"), 16))
            .collect::<Result<Vec<u8>, _>>()
        else {
            return false;
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&self.body);
        mac.verify_slice(&tag).is_ok()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// What the webhook receiver got.
#[derive(Debug, Default)]
pub struct Receiver {
    pub hooks: Mutex<Vec<Hook>>,
    /// Requests still to answer with 500.
    pub fail: Mutex<usize>,
    /// Connections whose TLS handshake failed.
    pub tls_failures: Mutex<usize>,
}

/// Starts a plain http webhook receiver answering 204, or 500 to the first `fail` requests;
/// its port and what it received.
pub async fn webhook_receiver(fail: usize) -> (u16, Arc<Receiver>) {
    receiver(fail, None).await
}

/// The same over https, with a server certificate from `ca`.
pub async fn https_webhook_receiver(fail: usize, ca: &TestCa) -> (u16, Arc<Receiver>) {
    receiver(fail, Some(ca.clone())).await
}

async fn receiver(fail: usize, tls: Option<TestCa>) -> (u16, Arc<Receiver>) {
    let rx = Arc::new(Receiver {
        fail: Mutex::new(fail),
        ..Receiver::default()
    });
    let out = rx.clone();
    let tls = Arc::new(tls);
    let port = listen(move |stream| {
        let (rx, tls) = (rx.clone(), tls.clone());
        async move {
            let Some(mut conn) = open(Box::new(stream), tls.as_ref().as_ref(), &rx.tls_failures).await
            else {
                return;
            };
            if let Some(hook) = read_request(&mut conn).await {
                let status = {
                    let mut n = rx.fail.lock().unwrap();
                    if *n > 0 {
                        *n -= 1;
                        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    } else {
                        "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
                    }
                };
                rx.hooks.lock().unwrap().push(hook);
                if say(&mut conn, status).await.is_some() {
                    let _ = conn.get_mut().shutdown().await;
                }
            }
        }
    })
    .await;
    (port, out)
}

/// One HTTP/1.1 request with a `Content-Length` body; `None` when the client went away.
async fn read_request(conn: &mut Conn) -> Option<Hook> {
    let request = line(conn).await?;
    let mut headers = Vec::new();
    loop {
        let l = line(conn).await?;
        if l == "\r\n" {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())?;
    let mut body = vec![0; len];
    conn.read_exact(&mut body).await.ok()?;
    Some(Hook {
        path: request.split_whitespace().nth(1)?.to_owned(),
        headers,
        body,
    })
}

/// Listens on a port of its own on 127.0.0.1 and serves each connection with `serve` on a task
/// of its own; the port.
async fn listen<F, Fut>(serve: F) -> u16
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    port
}

/// Notification settings that deliver through the SMTP sink on `port` (plain, no login),
/// with links to `https://kizuki.example.jp` and the default reminder timings.
pub fn notify_through(port: u16) -> kizuki_app::notify::NotifyConfig {
    use kizuki_app::notify::smtp::{SmtpConfig, SmtpTls};
    kizuki_app::notify::NotifyConfig {
        public_url: Some("https://kizuki.example.jp".into()),
        smtp: Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            ca: None,
            auth: None,
            from: kizuki_domain::user::Email::parse("kizuki@centre.example.jp")
                .unwrap_or_else(|e| panic!("sender: {e}")),
            helo: "test".into(),
            timeout: std::time::Duration::from_secs(5),
        }),
        webhook: None,
        reminders: kizuki_app::notify::ReminderSettings::default(),
    }
}
