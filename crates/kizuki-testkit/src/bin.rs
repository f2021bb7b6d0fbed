//! The built `kizuki` binary as a user runs it: commands on a data dir, and `kizuki serve` as
//! a process of its own (for kill and two-node tests) on a port the server picks and prints.

use crate::http::{Client, Socket};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a started server may take to print its address and answer `/healthz`.
const START_WITHIN: Duration = Duration::from_secs(60);

/// A fresh, empty data dir (`<temp>/data`, not yet made) that lives as long as the value.
#[derive(Debug)]
pub struct TempDataDir {
    /// The temporary directory holding the data dir, for files beside it.
    pub dir: tempfile::TempDir,
}

impl TempDataDir {
    pub fn new() -> Self {
        TempDataDir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The data dir.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Default for TempDataDir {
    fn default() -> Self {
        TempDataDir::new()
    }
}

/// A command's standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command's standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `kizuki` binary (`env!("CARGO_BIN_EXE_kizuki")` in the binary's own tests), with
/// environment variables for every run. The data dir and address come from flags only.
#[derive(Debug, Clone)]
pub struct Kizuki {
    exe: PathBuf,
    env: Vec<(String, String)>,
}

impl Kizuki {
    pub fn new(exe: impl Into<PathBuf>) -> Kizuki {
        Kizuki {
            exe: exe.into(),
            env: Vec::new(),
        }
    }

    /// Sets `key` to `value` in every process started from here.
    pub fn env(mut self, key: &str, value: &str) -> Kizuki {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    fn command(&self, data_dir: &Path) -> Command {
        let mut c = Command::new(&self.exe);
        c.arg("--data-dir")
            .arg(data_dir)
            .env_remove("KIZUKI_DATA_DIR")
            .env_remove("KIZUKI_ADDR")
            .env("KIZUKI_LOG", "warn");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs `kizuki --data-dir DIR ARGS…` to the end.
    pub fn run(&self, data_dir: &Path, args: &[&str]) -> Output {
        self.command(data_dir)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.exe.display()))
    }

    /// Starts `kizuki serve` on 127.0.0.1 with a port of the server's choosing, reads the
    /// address it prints, and waits until it answers `/healthz`.
    pub async fn serve(&self, data_dir: &Path) -> Node {
        let mut cmd = self.command(data_dir);
        cmd.args(["serve", "--addr", "127.0.0.1:0"])
            .stderr(Stdio::null());
        let (child, addr) = spawn_announcing(cmd, served_addr).await;
        let node = Node {
            socket: Socket::new(&format!("http://{addr}")),
            addr,
            child,
        };
        node.wait_ready().await;
        node
    }
}

/// Starts `cmd` with its standard output piped and waits (bounded) for the first line that
/// `find` takes something from, such as the port a server chose; the rest of the output is
/// read and dropped, so the process never blocks on a full pipe.
pub async fn spawn_announcing(
    mut cmd: Command,
    find: impl Fn(&str) -> Option<String> + Send + 'static,
) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.get_program()));
    let out = child.stdout.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if let Some(found) = find(&line)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(found);
            }
        }
    });
    match tokio::time::timeout(START_WITHIN, rx).await {
        Ok(Ok(found)) => (child, found),
        Ok(Err(_)) => {
            let status = child.wait();
            panic!(
                "{:?} ended before it said where it listens: {status:?}",
                cmd.get_program()
            )
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{:?} did not say where it listens within {START_WITHIN:?}",
                cmd.get_program()
            )
        }
    }
}

/// The address in the line `kizuki serve` prints once it listens
/// (`kizuki を http://127.0.0.1:PORT で起動しました…`).
fn served_addr(line: &str) -> Option<String> {
    let rest = line.strip_prefix("kizuki を http://")?;
    let addr = rest.split_whitespace().next()?;
    Some(addr.to_owned())
}

/// A running `kizuki serve` process, killed when dropped.
#[derive(Debug)]
pub struct Node {
    child: Child,
    addr: String,
    socket: Socket,
}

impl Node {
    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// A client for the raw exchange: no cookie kept.
    pub fn http(&self) -> &Socket {
        &self.socket
    }

    /// An anonymous browser-like client.
    pub fn client(&self) -> Client {
        Client::over_socket(self.socket.clone(), None)
    }

    /// Waits (bounded) until the server answers `/healthz` with 200.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + START_WITHIN;
        while Instant::now() < deadline {
            if let Ok(r) = self.socket.try_send("GET", "/healthz", &[], b"").await
                && r.status == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server on {} did not come up", self.addr);
    }

    /// Kills the process with SIGKILL and waits until it is gone.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_served_address_is_read_from_the_start_line() {
        assert_eq!(
            super::served_addr("kizuki を http://127.0.0.1:43111 で起動しました（Ctrl+C で停止）")
                .as_deref(),
            Some("127.0.0.1:43111")
        );
        assert_eq!(super::served_addr("データベース x を使用します。"), None);
    }
}
