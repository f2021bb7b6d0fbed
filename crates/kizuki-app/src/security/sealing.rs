//! Secrets the app keeps in the database and must read back (TOTP secrets, the instance's
//! CSRF key), sealed with XChaCha20-Poly1305 under keys kept outside the database, so a
//! stolen backup alone reveals none of them.
//!
//! A sealed value is ASCII: `sealed:v1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>`. The
//! associated data names where the value lives (`totp:<user id>`, `instance:<name>`), so a
//! sealed value copied into another row does not open. Keys form a ring: the first seals,
//! every one opens. Rotation puts a new key first, re-seals every kept secret under it and
//! then drops the others. A value without the prefix is clear, from before sealing; it opens
//! as itself and is re-sealed when the app starts.

use crate::{App, SharedRng, fill_random};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use kizuki_store::SecretSlot;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const PREFIX: &str = "sealed:v1:";
/// The key ring from the environment, used instead of the key file when set.
pub const KEY_ENV: &str = "KIZUKI_SECRETS_KEY";
/// The key ring's file in the data dir.
pub const KEY_FILE: &str = "secrets.key";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "{origin} の {line} 行目は「<鍵ID>:<32バイトのbase64>」ではありません / line {line} of {origin} is not `<key id>:<base64 of 32 bytes>`"
    )]
    BadKey { origin: String, line: usize },
    #[error("{origin} に鍵がありません / {origin} holds no key")]
    Empty { origin: String },
    #[error(
        "{slot} は鍵 {id} で封印されていますが、この鍵がありません。作成したノードの鍵（{KEY_FILE} または {KEY_ENV}）を使ってください / {slot} is sealed with key {id}, which this node does not have; use the key file or {KEY_ENV} of the node that sealed it"
    )]
    UnknownKey { slot: String, id: String },
    #[error(
        "{slot} の封印を開けません（改ざんされたか別の鍵） / cannot open {slot}: altered, or sealed with another key of the same id"
    )]
    Corrupt { slot: String },
    #[error("鍵ファイル {path} / key file {path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One key of the ring; `Debug` shows only its id.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    id: String,
    bytes: [u8; KEY_LEN],
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A new key with a random id: nodes that each made their own key by mistake are told
    /// apart by the id instead of failing to open each other's values.
    pub fn generate(rng: &SharedRng) -> Key {
        let mut bytes = [0u8; KEY_LEN];
        fill_random(rng, &mut bytes);
        let mut id = [0u8; 4];
        fill_random(rng, &mut id);
        Key {
            id: super::hex(id),
            bytes,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.bytes.into())
    }
}

/// The keys, the sealing one first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<Key>,
}

impl KeyRing {
    pub fn new(current: Key) -> KeyRing {
        KeyRing {
            keys: vec![current],
        }
    }

    /// `<id>:<base64>` entries, one per line or separated by commas (the environment has no
    /// newlines to spare); `#` starts a comment. `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<KeyRing, SealError> {
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default();
            for entry in line.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let bad = || SealError::BadKey {
                    origin: origin.to_owned(),
                    line: i + 1,
                };
                let (id, b64) = entry.split_once(':').ok_or_else(bad)?;
                let bytes: [u8; KEY_LEN] = B64
                    .decode(b64.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(bad)?;
                let id = id.trim();
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(bad());
                }
                keys.push(Key {
                    id: id.to_owned(),
                    bytes,
                });
            }
        }
        if keys.is_empty() {
            return Err(SealError::Empty {
                origin: origin.to_owned(),
            });
        }
        Ok(KeyRing { keys })
    }

    /// The ring as the key file holds it.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# kizuki: keys sealing the secrets kept in the database. The first seals, all open.\n\
             # Keep this file out of backups of the database, with permissions 0600.\n",
        );
        for k in &self.keys {
            out.push_str(&format!("{}:{}\n", k.id, B64.encode(k.bytes)));
        }
        out
    }

    /// The ring as one line for [`KEY_ENV`].
    pub fn render_env(&self) -> String {
        self.keys
            .iter()
            .map(|k| format!("{}:{}", k.id, B64.encode(k.bytes)))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn current(&self) -> &Key {
        // A ring is never empty: `parse` refuses that and `new` starts with a key.
        &self.keys[0]
    }

    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The ring with `key` sealing from now on and the others still opening.
    pub fn with_first(&self, key: Key) -> KeyRing {
        let others = self.keys.iter().filter(|k| k.id != key.id).cloned();
        let keys = std::iter::once(key.clone()).chain(others).collect();
        KeyRing { keys }
    }

    /// Only the sealing key, once nothing is sealed under the others.
    pub fn only_current(&self) -> KeyRing {
        KeyRing::new(self.current().clone())
    }

    fn get(&self, id: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// Where the ring came from, which is where a rotation writes it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A key file (the data dir's by default); re-read when a value names a key not in memory,
    /// so a node picks up a rotation made elsewhere.
    File(PathBuf),
    /// [`KEY_ENV`]: the operator changes the environment.
    Env,
    /// Given in code (tests).
    Fixed,
}

/// What opening found.
pub struct Opened {
    pub plain: Vec<u8>,
    /// Clear, or sealed under a key that no longer seals: to be sealed again.
    pub stale: bool,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("stale", &self.stale)
            .finish_non_exhaustive()
    }
}

/// Seals and opens kept secrets with the ring.
#[derive(Debug)]
pub struct Sealer {
    ring: RwLock<KeyRing>,
    source: KeySource,
}

impl Sealer {
    pub fn new(ring: KeyRing, source: KeySource) -> Sealer {
        Sealer {
            ring: RwLock::new(ring),
            source,
        }
    }

    /// A new key held only in memory (tests, and tools that keep nothing).
    pub fn ephemeral(rng: &SharedRng) -> Sealer {
        Sealer::new(KeyRing::new(Key::generate(rng)), KeySource::Fixed)
    }

    /// The ring from [`KEY_ENV`] when set, else from `data_dir/secrets.key`, which is made
    /// with a new key (permissions 0600) when missing.
    pub fn load(
        data_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        rng: &SharedRng,
    ) -> Result<Sealer, SealError> {
        if let Some(text) = env(KEY_ENV).filter(|t| !t.trim().is_empty()) {
            return Ok(Sealer::new(KeyRing::parse(&text, KEY_ENV)?, KeySource::Env));
        }
        let path = data_dir.join(KEY_FILE);
        let ring = match read_ring(&path) {
            Ok(ring) => ring,
            Err(SealError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                let ring = KeyRing::new(Key::generate(rng));
                write_ring(&path, &ring)?;
                tracing::info!(path = %path.display(), "made a new key for the secrets kept in the database");
                ring
            }
            Err(e) => return Err(e),
        };
        Ok(Sealer::new(ring, KeySource::File(path)))
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    pub fn ring(&self) -> KeyRing {
        match self.ring.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Uses `ring` from now on (a rotation in progress).
    pub fn set_ring(&self, ring: KeyRing) {
        match self.ring.write() {
            Ok(mut r) => *r = ring,
            Err(p) => *p.into_inner() = ring,
        }
    }

    /// `plain` sealed under the current key for `slot`.
    pub fn seal(&self, slot: &SecretSlot, plain: &[u8], rng: &SharedRng) -> Vec<u8> {
        let ring = self.ring();
        let key = ring.current();
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(rng, &mut nonce);
        let aad = context(slot);
        // Encrypting into a Vec with a 24-byte nonce has no failure case but an impossible
        // length overflow; an empty body then fails to open rather than panicking here.
        let body = key
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend(body);
        format!("{PREFIX}{}:{}", key.id, B64.encode(blob)).into_bytes()
    }

    /// What `stored` holds for `slot`.
    pub fn open(&self, slot: &SecretSlot, stored: &[u8]) -> Result<Opened, SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX.as_bytes()) else {
            return Ok(Opened {
                plain: stored.to_vec(),
                stale: true,
            });
        };
        let corrupt = || SealError::Corrupt {
            slot: describe(slot),
        };
        let rest = std::str::from_utf8(rest).map_err(|_| corrupt())?;
        let (id, b64) = rest.split_once(':').ok_or_else(corrupt)?;
        let blob = B64.decode(b64).map_err(|_| corrupt())?;
        if blob.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, body) = blob.split_at(NONCE_LEN);
        let ring = self.ring_with(id);
        let key = ring.get(id).ok_or_else(|| SealError::UnknownKey {
            slot: describe(slot),
            id: id.to_owned(),
        })?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| corrupt())?;
        let aad = context(slot);
        let plain = key
            .cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| corrupt())?;
        Ok(Opened {
            plain,
            stale: id != ring.current().id,
        })
    }

    /// The ring, re-read from the key file when it lacks `id` (a rotation made by another
    /// process since this one started).
    fn ring_with(&self, id: &str) -> KeyRing {
        let ring = self.ring();
        if ring.get(id).is_some() {
            return ring;
        }
        if let KeySource::File(path) = &self.source
            && let Ok(fresh) = read_ring(path)
            && fresh.get(id).is_some()
        {
            self.set_ring(fresh.clone());
            return fresh;
        }
        ring
    }

    /// Writes `ring` where it came from: the key file, replaced atomically. `false` when the
    /// source is the environment or code, which the operator (or the test) changes.
    pub fn persist(&self, ring: &KeyRing) -> Result<bool, SealError> {
        match &self.source {
            KeySource::File(path) => write_ring(path, ring).map(|()| true),
            KeySource::Env | KeySource::Fixed => Ok(false),
        }
    }
}

/// The associated data: where a value lives.
fn context(slot: &SecretSlot) -> String {
    match slot {
        SecretSlot::Totp(user) => format!("totp:{user}"),
        SecretSlot::Instance(name) => format!("instance:{name}"),
    }
}

fn describe(slot: &SecretSlot) -> String {
    match slot {
        SecretSlot::Totp(user) => format!("user_mfa.secret (user {user})"),
        SecretSlot::Instance(name) => format!("instance_secrets.value ({name})"),
    }
}

fn read_ring(path: &Path) -> Result<KeyRing, SealError> {
    let io = |source| SealError::Io {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    warn_if_readable_by_others(path);
    KeyRing::parse(&text, &path.display().to_string())
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "the secrets key file can be read by others than its owner; chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

/// Writes beside the file with owner-only permissions, syncs, then renames over it, so a crash
/// leaves the old ring or the new one, never half of one.
fn write_ring(path: &Path, ring: &KeyRing) -> Result<(), SealError> {
    use std::io::Write as _;
    let io = |source| SealError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("key.new");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp).map_err(io)?;
    f.write_all(ring.render().as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

impl App {
    /// `plain` sealed for `slot` under the current key, with a nonce from the app's random source.
    pub fn seal_secret(&self, slot: &SecretSlot, plain: &[u8]) -> Vec<u8> {
        self.secrets.seal(slot, plain, &self.rng)
    }

    /// What the stored value of `slot` holds, clear or sealed.
    pub fn open_secret(&self, slot: &SecretSlot, stored: &[u8]) -> Result<Vec<u8>, SealError> {
        self.secrets.open(slot, stored).map(|o| o.plain)
    }
}

/// How many kept secrets a pass sealed again, and how many were already sealed under the
/// current key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    pub resealed: usize,
    pub current: usize,
}

/// Seals every kept secret that is clear (a database from before sealing) or sealed under a
/// key that no longer seals. Each is replaced only if unchanged since read; one changed
/// meanwhile was written by the app, so it is sealed under the current key already. Fails on
/// a value no key here opens, before anything is served with the wrong key.
pub async fn reseal_all(app: &App) -> crate::error::AppResult<Resealed> {
    let mut out = Resealed::default();
    for kept in app.store.stored_secrets().await? {
        let opened = app.secrets.open(&kept.slot, &kept.value)?;
        if !opened.stale {
            out.current += 1;
            continue;
        }
        let sealed = app.seal_secret(&kept.slot, &opened.plain);
        if app
            .store
            .replace_secret(&kept.slot, &kept.value, &sealed)
            .await?
        {
            out.resealed += 1;
        }
    }
    Ok(out)
}

/// [`reseal_all`] when the app starts, audited when it sealed anything.
pub async fn seal_at_start(app: &App) -> crate::error::AppResult<Resealed> {
    let r = reseal_all(app).await?;
    if r.resealed > 0 {
        crate::security::audit_log::note(
            app,
            crate::security::audit::SYSTEM,
            crate::security::audit::actions::SECRETS_SEALED,
            format!("key:{}", app.secrets.ring().current().id()),
            &serde_json::json!({ "resealed": r.resealed }),
        )
        .await?;
    }
    Ok(r)
}

/// A rotation's outcome: the new key's id and how many secrets moved to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub new_id: String,
    pub dropped: Vec<String>,
    pub resealed: Resealed,
    /// The ring for [`KEY_ENV`] when the keys come from the environment (the operator sets it
    /// on every node); `None` when the key file was rewritten.
    pub env_value: Option<String>,
}

/// Makes a new key, seals every kept secret under it and drops the old keys. The ring with
/// both is written first, so a crash part-way leaves every value openable and running the
/// rotation again finishes it.
pub async fn rotate(app: &App) -> crate::error::AppResult<Rotated> {
    let old = app.secrets.ring();
    let key = Key::generate(&app.rng);
    let new_id = key.id.clone();
    let both = old.with_first(key);
    app.secrets.persist(&both)?;
    app.secrets.set_ring(both.clone());
    let resealed = reseal_all(app).await?;
    let last = both.only_current();
    let rewritten = app.secrets.persist(&last)?;
    app.secrets.set_ring(last.clone());
    let dropped: Vec<String> = old.ids().into_iter().map(str::to_owned).collect();
    crate::security::audit_log::note(
        app,
        crate::security::audit::SYSTEM,
        crate::security::audit::actions::SECRETS_ROTATED,
        format!("key:{new_id}"),
        &serde_json::json!({
            "resealed": resealed.resealed,
            "dropped": dropped,
        }),
    )
    .await?;
    Ok(Rotated {
        new_id,
        dropped,
        resealed,
        env_value: (!rewritten).then(|| last.render_env()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeded_rng;
    use kizuki_domain::ids::UserId;

    fn sealer(seed: u64) -> (Sealer, SharedRng) {
        let rng = seeded_rng(seed);
        let ring = KeyRing::new(Key::generate(&rng));
        (Sealer::new(ring, KeySource::Fixed), rng)
    }

    const TOTP: SecretSlot = SecretSlot::Totp(UserId(7));

    #[test]
    fn a_sealed_value_opens_only_where_it_was_sealed() {
        let (s, rng) = sealer(1);
        let sealed = s.seal(&TOTP, b"JBSWY3DPEHPK3PXP", &rng);
        let text = String::from_utf8(sealed.clone()).unwrap();
        assert!(text.starts_with("sealed:v1:"), "{text}");
        assert!(!text.contains("JBSWY3DP"), "{text}");
        let opened = s.open(&TOTP, &sealed).unwrap();
        assert_eq!(opened.plain, b"JBSWY3DPEHPK3PXP");
        assert!(!opened.stale);
        // Copied into another user's row, it does not open.
        let other = SecretSlot::Totp(UserId(8));
        assert!(matches!(
            s.open(&other, &sealed),
            Err(SealError::Corrupt { .. })
        ));
        // Two seals of one value differ (a fresh nonce each time).
        assert_ne!(s.seal(&TOTP, b"JBSWY3DPEHPK3PXP", &rng), sealed);
    }

    #[test]
    fn an_altered_byte_or_another_key_does_not_open() {
        let (s, rng) = sealer(2);
        let mut sealed = s.seal(&TOTP, b"secret", &rng);
        let last = sealed.len() - 3;
        sealed[last] = if sealed[last] == b'A' { b'B' } else { b'A' };
        assert!(matches!(
            s.open(&TOTP, &sealed),
            Err(SealError::Corrupt { .. })
        ));
        let (other, rng2) = sealer(3);
        let foreign = other.seal(&TOTP, b"secret", &rng2);
        let err = s.open(&TOTP, &foreign).unwrap_err();
        let id = other.ring().current().id().to_owned();
        assert!(
            matches!(&err, SealError::UnknownKey { id: got, .. } if *got == id),
            "{err}"
        );
        assert!(err.to_string().contains(&id), "{err}");
    }

    #[test]
    fn a_clear_value_opens_as_itself_and_asks_to_be_sealed() {
        let (s, _) = sealer(4);
        let opened = s.open(&TOTP, b"GEZDGNBVGY3TQOJQ").unwrap();
        assert_eq!(opened.plain, b"GEZDGNBVGY3TQOJQ");
        assert!(opened.stale);
    }

    #[test]
    fn after_a_new_first_key_old_values_open_and_are_stale() {
        let (s, rng) = sealer(5);
        let old = s.seal(&TOTP, b"x", &rng);
        s.set_ring(s.ring().with_first(Key::generate(&rng)));
        let opened = s.open(&TOTP, &old).unwrap();
        assert_eq!(opened.plain, b"x");
        assert!(opened.stale);
        s.set_ring(s.ring().only_current());
        assert!(matches!(
            s.open(&TOTP, &old),
            Err(SealError::UnknownKey { .. })
        ));
    }

    #[test]
    fn the_ring_reads_back_what_it_writes_and_names_a_bad_line() {
        let rng = seeded_rng(6);
        let ring = KeyRing::new(Key::generate(&rng)).with_first(Key::generate(&rng));
        assert_eq!(KeyRing::parse(&ring.render(), "f").unwrap(), ring);
        assert_eq!(KeyRing::parse(&ring.render_env(), "env").unwrap(), ring);
        let text = format!("{}\nabc:notbase64\n", ring.render_env());
        let err = KeyRing::parse(&text, "secrets.key").unwrap_err();
        assert!(matches!(err, SealError::BadKey { line: 2, .. }), "{err}");
        let short = format!("k1:{}", B64.encode([0u8; 16]));
        assert!(matches!(
            KeyRing::parse(&short, "env"),
            Err(SealError::BadKey { line: 1, .. })
        ));
        assert!(matches!(
            KeyRing::parse("# nothing\n\n", "env"),
            Err(SealError::Empty { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_made_owner_only_and_reread_for_a_newer_key() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let rng = seeded_rng(7);
        let no_env = |_: &str| None;
        let a = Sealer::load(dir.path(), &no_env, &rng).unwrap();
        let path = dir.path().join(KEY_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A second process loads the same key.
        let b = Sealer::load(dir.path(), &no_env, &rng).unwrap();
        assert_eq!(a.ring(), b.ring());
        // `a` rotates; `b`, still holding the old ring, re-reads the file for the new id.
        let newer = a.ring().with_first(Key::generate(&rng));
        a.persist(&newer).unwrap();
        a.set_ring(newer);
        let sealed = a.seal(&TOTP, b"v", &rng);
        assert_eq!(b.open(&TOTP, &sealed).unwrap().plain, b"v");
        // The environment wins over the file.
        let env_ring = KeyRing::new(Key::generate(&rng));
        let value = env_ring.render_env();
        let env = move |k: &str| (k == KEY_ENV).then(|| value.clone());
        let c = Sealer::load(dir.path(), &env, &rng).unwrap();
        assert_eq!(c.ring(), env_ring);
        assert_eq!(c.source(), &KeySource::Env);
    }
}
