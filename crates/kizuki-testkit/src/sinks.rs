//! Local receivers for what the reminders send: an SMTP sink and a webhook receiver on
//! 127.0.0.1, each recording what arrived and able to refuse the first few on purpose.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope sender, as given (`<a@b>`).
    pub from: String,
    /// The envelope recipients, as given (`<a@b>`).
    pub to: Vec<String>,
    /// The message, dot-unstuffed.
    pub data: String,
}

impl Mail {
    /// Unfolded headers and the decoded body.
    pub fn parts(&self) -> (Vec<(String, String)>, String) {
        let (head, body) = self.data.split_once("\r\n\r\n").unwrap();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with(' ') || line.starts_with('\t') {
                headers.last_mut().unwrap().1.push_str(line);
            } else {
                let (k, v) = line.split_once(':').unwrap();
                headers.push((k.to_owned(), v.trim().to_owned()));
            }
        }
        let joined: String = body.split("\r\n").collect();
        let text = String::from_utf8(B64.decode(joined).unwrap()).unwrap();
        (headers, text)
    }

    /// Header `name` (any case); panics when missing.
    pub fn header(&self, name: &str) -> String {
        self.parts()
            .0
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    /// The subject decoded from its RFC 2047 encoded-words.
    pub fn subject(&self) -> String {
        let raw = self.header("Subject");
        let mut bytes = Vec::new();
        for w in raw.split_whitespace() {
            let inner = w
                .strip_prefix("=?UTF-8?B?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap_or_else(|| panic!("not an encoded-word: {w}"));
            bytes.extend(B64.decode(inner).unwrap());
        }
        String::from_utf8(bytes).unwrap()
    }

    /// The decoded body.
    pub fn body(&self) -> String {
        self.parts().1
    }
}

/// What the SMTP sink received.
#[derive(Debug, Default)]
pub struct Sink {
    pub mails: Mutex<Vec<Mail>>,
    /// Transactions still to refuse with a temporary failure.
    pub refuse: Mutex<usize>,
}

/// Starts an SMTP sink that speaks enough for a client (greeting, EHLO, MAIL, RCPT, DATA
/// dot-unstuffed, QUIT) and refuses the first `refuse` transactions with 451; its port and
/// what it received.
pub async fn smtp_sink(refuse: usize) -> (u16, Arc<Sink>) {
    let sink = Arc::new(Sink {
        mails: Mutex::new(Vec::new()),
        refuse: Mutex::new(refuse),
    });
    let s = sink.clone();
    let port = listen(move |stream| {
        let s = s.clone();
        async move {
            let (r, mut w) = stream.into_split();
            let mut r = BufReader::new(r);
            w.write_all(b"220 sink.test ESMTP\r\n").await.unwrap();
            let (mut from, mut to) = (String::new(), Vec::new());
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let upper = line.to_ascii_uppercase();
                let reply: &[u8] = if upper.starts_with("EHLO") {
                    b"250-sink.test\r\n250 8BITMIME\r\n"
                } else if upper.starts_with("MAIL FROM:") {
                    let mut n = s.refuse.lock().unwrap();
                    if *n > 0 {
                        *n -= 1;
                        b"451 4.3.0 try again later\r\n"
                    } else {
                        from = line[10..].trim().to_owned();
                        to.clear();
                        b"250 ok\r\n"
                    }
                } else if upper.starts_with("RCPT TO:") {
                    to.push(line[8..].trim().to_owned());
                    b"250 ok\r\n"
                } else if upper.starts_with("DATA") {
                    w.write_all(b"354 end with .\r\n").await.unwrap();
                    let mut data = String::new();
                    loop {
                        let mut l = String::new();
                        r.read_line(&mut l).await.unwrap();
                        if l == ".\r\n" {
                            break;
                        }
                        data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    }
                    s.mails.lock().unwrap().push(Mail {
                        from: from.clone(),
                        to: to.clone(),
                        data,
                    });
                    b"250 queued\r\n"
                } else if upper.starts_with("QUIT") {
                    let _ = w.write_all(b"221 bye\r\n").await;
                    return;
                } else {
                    b"500 what?\r\n"
                };
                w.write_all(reply).await.unwrap();
            }
        }
    })
    .await;
    (port, sink)
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
}

/// Starts a webhook receiver answering 204, or 500 to the first `fail` requests; its port
/// and what it received.
pub async fn webhook_receiver(fail: usize) -> (u16, Arc<Receiver>) {
    let rx = Arc::new(Receiver {
        hooks: Mutex::new(Vec::new()),
        fail: Mutex::new(fail),
    });
    let out = rx.clone();
    let port = listen(move |stream| {
        let rx = rx.clone();
        async move {
            let mut r = BufReader::new(stream);
            let mut request = String::new();
            r.read_line(&mut request).await.unwrap();
            let mut headers = Vec::new();
            loop {
                let mut l = String::new();
                r.read_line(&mut l).await.unwrap();
                if l == "\r\n" {
                    break;
                }
                let (k, v) = l.split_once(':').unwrap();
                headers.push((k.to_owned(), v.trim().to_owned()));
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.parse().unwrap())
                .unwrap();
            let mut body = vec![0; len];
            r.read_exact(&mut body).await.unwrap();
            let status: &[u8] = {
                let mut n = rx.fail.lock().unwrap();
                if *n > 0 {
                    *n -= 1;
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
                } else {
                    b"HTTP/1.1 204 No Content\r\n\r\n"
                }
            };
            rx.hooks.lock().unwrap().push(Hook {
                path: request.split_whitespace().nth(1).unwrap().to_owned(),
                headers,
                body,
            });
            r.get_mut().write_all(status).await.unwrap();
        }
    })
    .await;
    (port, out)
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
