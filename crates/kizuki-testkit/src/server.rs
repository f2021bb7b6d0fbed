//! A test app served on a real socket, for the few tests that need a running server (a
//! browser, the peer address a real connection carries). The listener is bound to
//! 127.0.0.1:0 and handed to the server as it is, so no port number is ever reused.

use crate::app::{Database, Site};
use crate::http::{Client, Socket};
use kizuki_app::App;
use kizuki_web::WebOptions;
use std::sync::Arc;

/// A running server, stopped when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    site: Arc<Site>,
    socket: Socket,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _db: Arc<Database>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl TestServer {
    pub(crate) async fn start(
        app: App,
        opts: WebOptions,
        site: Arc<Site>,
        db: Arc<Database>,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(kizuki_web::serve_with_options(
            app,
            listener,
            async {
                let _ = rx.await;
            },
            opts,
        ));
        TestServer {
            socket: Socket::new(&base),
            base,
            site,
            stop: Some(tx),
            task: Some(task),
            _db: db,
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An anonymous client over the socket.
    pub fn anonymous(&self) -> Client {
        Client::over_socket(self.socket.clone(), Some(self.site.clone()))
    }

    /// A client over the socket signed in as demo user `email`.
    pub async fn client(&self, email: &str) -> Client {
        let mut c = self.anonymous();
        c.login(email, &self.password(email)).await;
        c
    }

    /// The demo password of `email`.
    pub fn password(&self, email: &str) -> String {
        self.site.password(email)
    }

    /// An unused recovery code of `email`; `None` if it has no second factor enrolled.
    pub async fn mfa_code(&self, email: &str) -> Option<String> {
        self.site.mfa_code(email).await
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
