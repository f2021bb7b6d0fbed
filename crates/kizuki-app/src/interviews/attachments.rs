//! Files the operator provides for an interview: kept as bytes in the database (so backups
//! carry them), typed by sniffing the content rather than believing the name or the
//! uploader's label, fingerprinted with SHA-256, and only ever handed out as a download.

use sha2::{Digest, Sha256};

/// The largest file kept when nothing is configured: 20 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 20 * 1024 * 1024;

/// How large one attachment may be (`[interviews] max_attachment_mb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentLimit(pub u64);

impl Default for AttachmentLimit {
    fn default() -> Self {
        AttachmentLimit(DEFAULT_MAX_BYTES)
    }
}

impl AttachmentLimit {
    /// The limit in whole MiB, for messages.
    pub fn mib(self) -> u64 {
        self.0 / (1024 * 1024)
    }

    /// What an upload over the limit is told.
    pub fn refusal(self) -> String {
        format!(
            "添付ファイルは1件{} MiBまでです。分割するか圧縮してください / an attachment may be at most {} MiB",
            self.mib(),
            self.mib()
        )
    }
}

/// The media type a file's content shows, from a short list of what interviews use (PDF,
/// images, office files, plain text). Anything else, including a file whose name or label
/// claims otherwise, is `application/octet-stream`: kept as bytes, never interpreted.
pub fn sniff(content: &[u8]) -> &'static str {
    if let Some(t) = infer::get(content) {
        let known = [
            "application/pdf",
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "image/bmp",
            "image/tiff",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/zip",
        ];
        return known
            .into_iter()
            .find(|k| *k == t.mime_type())
            .unwrap_or("application/octet-stream");
    }
    // Text: valid UTF-8 with no control characters but line ends and tabs. Markup is text
    // too; it is served as plain text in a download, so it is never rendered.
    match std::str::from_utf8(content) {
        Ok(s)
            if !s
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
        {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

/// The name a download is offered under: the uploader's name without any path, control
/// characters or quotes, at most 200 characters; `attachment` when nothing is left.
pub fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | '/'))
        .take(200)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() {
        "attachment".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_content_not_the_name() {
        assert_eq!(
            sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"),
            "application/pdf"
        );
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(
            sniff("議事メモ\n2行目".as_bytes()),
            "text/plain; charset=utf-8"
        );
        // A "PDF" that is really an executable, and bytes that are nothing in particular.
        assert_eq!(
            sniff(b"MZ\x90\0\x03\0\0\0\x04\0"),
            "application/octet-stream"
        );
        assert_eq!(sniff(&[0, 159, 146, 150, 1, 2]), "application/octet-stream");
        assert_eq!(sniff(b""), "text/plain; charset=utf-8");
    }

    #[test]
    fn download_names_lose_paths_quotes_and_controls() {
        assert_eq!(clean_filename("C:\\Users\\a\\報告書.pdf"), "報告書.pdf");
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("a\"b\r\n.txt"), "ab.txt");
        assert_eq!(clean_filename(".."), "attachment");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
