//! The file-transfer message: how `p2pcf join --send-file` (and the desktop app) send a whole
//! file as ONE P2PCF message. Peers that do not know the format (the JS client) simply see a
//! binary message.
//!
//! Layout: [`MAGIC`] (`P2PCF-FILE\0`), a little-endian `u32` header length, a UTF-8 JSON header
//! [`FileHeader`] (`{"name","size","sha256","mime"?}`), then exactly `size` bytes of file data.
//!
//! [`decode`] never trusts the sender: the header length is checked against the message, the
//! declared size and SHA-256 against the data, and [`sanitize_file_name`] turns the declared
//! name into something safe to create inside a download directory.
//!
//! ```
//! use p2pcf_proto::file::{self, FileHeader};
//! let message = file::encode("notes.txt", Some("text/plain"), b"hello");
//! let received = file::decode(&message)?.expect("a file message");
//! assert_eq!(received.header.name, "notes.txt");
//! assert_eq!(received.data, b"hello");
//! assert!(file::decode(b"just a chat line")?.is_none());
//! # Ok::<(), p2pcf_proto::file::FileError>(())
//! ```

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Every file message starts with these bytes.
pub const MAGIC: &[u8; 11] = b"P2PCF-FILE\0";

/// The largest JSON header accepted (a name, a size, a digest and a MIME type fit easily).
pub const MAX_HEADER_LEN: usize = 64 * 1024;

/// Longest file name [`sanitize_file_name`] returns, in bytes.
pub const MAX_NAME_LEN: usize = 200;

const PREFIX_LEN: usize = MAGIC.len() + 4;

/// The JSON header of a file message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHeader {
    /// The file name as the sender gave it (untrusted: see [`sanitize_file_name`]).
    pub name: String,
    /// Number of file bytes following the header.
    pub size: u64,
    /// Lowercase hex SHA-256 of the file bytes.
    pub sha256: String,
    /// MIME type, when the sender knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
}

/// A decoded and verified file message, borrowing the data from the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMessage<'a> {
    pub header: FileHeader,
    pub data: &'a [u8],
}

/// Why a message that starts with [`MAGIC`] is not a valid file message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// The message ends inside the magic bytes or the header length.
    #[error("file message truncated before its header")]
    Truncated,
    /// The header length is beyond [`MAX_HEADER_LEN`] or beyond the end of the message.
    #[error("file header length {declared} is invalid ({available} bytes follow, limit {MAX_HEADER_LEN})")]
    BadHeaderLength { declared: u64, available: usize },
    /// The header is not the expected JSON object.
    #[error("file header is not valid: {0}")]
    BadHeader(String),
    /// The data length differs from the header's `size`.
    #[error("file size mismatch: header says {declared} bytes, message carries {actual}")]
    SizeMismatch { declared: u64, actual: u64 },
    /// The data's SHA-256 differs from the header's `sha256`.
    #[error("file sha256 mismatch: header says {declared}, data hashes to {actual}")]
    DigestMismatch { declared: String, actual: String },
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Builds the file message for `data` (hashing it).
pub fn encode(name: &str, mime: Option<&str>, data: &[u8]) -> Vec<u8> {
    let header = FileHeader {
        name: name.to_owned(),
        size: data.len() as u64,
        sha256: sha256_hex(data),
        mime: mime.map(str::to_owned),
    };
    encode_with_header(&header, data)
}

/// Builds a file message from a prepared header (not checked against `data`: tests use this to
/// build corrupt messages).
pub fn encode_with_header(header: &FileHeader, data: &[u8]) -> Vec<u8> {
    // Serializing a struct of strings and integers cannot fail.
    let json = serde_json::to_vec(header).unwrap_or_default();
    let mut out = Vec::with_capacity(PREFIX_LEN + json.len() + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(data);
    out
}

/// Length of the prefix (magic, length, header) of a message built by [`encode`] for `header`:
/// what to subtract from a send progress count to get file bytes.
pub fn header_overhead(header: &FileHeader) -> usize {
    PREFIX_LEN + serde_json::to_vec(header).map(|j| j.len()).unwrap_or(0)
}

/// True when `message` starts with [`MAGIC`] (it is meant as a file message).
pub fn is_file_message(message: &[u8]) -> bool {
    message.starts_with(MAGIC)
}

/// Decodes and verifies a message. `Ok(None)`: an ordinary message (no [`MAGIC`]).
/// `Err`: it claims to be a file but is malformed or corrupt; nothing of it should be saved.
pub fn decode(message: &[u8]) -> Result<Option<FileMessage<'_>>, FileError> {
    let Some(rest) = message.strip_prefix(MAGIC.as_slice()) else {
        return Ok(None);
    };
    let (len_bytes, rest) = rest.split_first_chunk::<4>().ok_or(FileError::Truncated)?;
    let declared = u32::from_le_bytes(*len_bytes);
    let header_len = usize::try_from(declared)
        .ok()
        .filter(|&n| n <= MAX_HEADER_LEN && n <= rest.len())
        .ok_or(FileError::BadHeaderLength {
            declared: u64::from(declared),
            available: rest.len(),
        })?;
    let (json, data) = rest.split_at(header_len);
    let header: FileHeader =
        serde_json::from_slice(json).map_err(|e| FileError::BadHeader(e.to_string()))?;
    if header.size != data.len() as u64 {
        return Err(FileError::SizeMismatch {
            declared: header.size,
            actual: data.len() as u64,
        });
    }
    let actual = sha256_hex(data);
    if !header.sha256.eq_ignore_ascii_case(&actual) {
        return Err(FileError::DigestMismatch {
            declared: header.sha256,
            actual,
        });
    }
    Ok(Some(FileMessage { header, data }))
}

/// Turns an untrusted file name into a plain name safe to create in a download directory: no
/// path separators, no `.`/`..` components, no leading dots, no control or Windows-reserved
/// characters or device names, at most [`MAX_NAME_LEN`] bytes. Never empty (`file` instead).
pub fn sanitize_file_name(name: &str) -> String {
    // Keep only the last path component, whatever separator the sender used.
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let replaced: String = last
        .chars()
        .map(|c| match c {
            ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let trimmed = replaced
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' '])
        .trim();
    let mut out = truncate_keeping_extension(trimmed, MAX_NAME_LEN);
    if out.is_empty() {
        out = "file".into();
    }
    let stem = out
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        out.insert(0, '_');
    }
    out
}

fn truncate_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let ext = match name.rfind('.') {
        Some(i) if name.len() - i <= 16 => &name[i..],
        _ => "",
    };
    let mut cut = max - ext.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &name[..cut])
}

/// A MIME type for common file extensions (`None` when unknown).
pub fn guess_mime(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_len(declared: u32, tail: &[u8]) -> Vec<u8> {
        let mut m = MAGIC.to_vec();
        m.extend_from_slice(&declared.to_le_bytes());
        m.extend_from_slice(tail);
        m
    }

    #[test]
    fn round_trip_of_every_size() {
        for size in [0usize, 1, 15, 16_000, 16_001, 1_000_000] {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let message = encode("data.bin", None, &data);
            let file = decode(&message).unwrap().unwrap();
            assert_eq!(file.data, &data[..]);
            assert_eq!(file.header.size, size as u64);
            assert_eq!(file.header.sha256, sha256_hex(&data));
            assert_eq!(file.header.mime, None);
            let overhead = header_overhead(&file.header);
            assert_eq!(message.len(), overhead + size);
        }
    }

    #[test]
    fn header_is_the_documented_json_with_optional_mime() {
        let message = encode("a.txt", Some("text/plain"), b"hi");
        let len = u32::from_le_bytes(message[11..15].try_into().unwrap()) as usize;
        let json: serde_json::Value = serde_json::from_slice(&message[15..15 + len]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "a.txt", "size": 2, "mime": "text/plain",
                "sha256": "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"})
        );
        assert_eq!(&message[15 + len..], b"hi");
        let without = encode("a", None, b"");
        assert!(!String::from_utf8_lossy(&without).contains("mime"));
    }

    #[test]
    fn messages_without_magic_are_not_files() {
        for m in [&b""[..], b"hello", b"P2PCF-FILE", b"p2pcf-file\0\0\0\0\0"] {
            assert_eq!(decode(m), Ok(None), "{m:?}");
            assert!(!is_file_message(m));
        }
        assert!(is_file_message(&encode("x", None, b"")));
    }

    #[test]
    fn hostile_headers_are_errors_not_panics() {
        let good = encode("x.bin", None, b"abc");
        let json_len = good.len() - PREFIX_LEN - 3;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("magic only", MAGIC.to_vec()),
            ("short length", [&MAGIC[..], &[1, 0]].concat()),
            ("length beyond message", with_len(100, b"{}")),
            ("length u32::MAX", with_len(u32::MAX, b"{}")),
            (
                "length over limit",
                with_len(MAX_HEADER_LEN as u32 + 1, &vec![b' '; MAX_HEADER_LEN + 10]),
            ),
            ("empty header", with_len(0, b"abc")),
            ("not json", with_len(3, b"abc")),
            ("not utf-8", with_len(2, &[0xff, 0xfe])),
            ("array", with_len(2, b"[]")),
            ("missing sha", with_len(22, br#"{"name":"x","size":0} "#)),
            (
                "negative size",
                with_len(41, br#"{"name":"x","size":-1,"sha256":"00000000"}"#),
            ),
            (
                "name not a string",
                with_len(39, br#"{"name":7,"size":0,"sha256":"00000000"}"#),
            ),
            ("truncated data", good[..good.len() - 1].to_vec()),
            ("extra data", [&good[..], b"d"].concat()),
            ("header cut", good[..PREFIX_LEN + json_len - 1].to_vec()),
        ];
        for (what, message) in cases {
            assert!(decode(&message).is_err(), "{what} should be rejected");
        }
        assert!(matches!(
            decode(&with_len(u32::MAX, b"")),
            Err(FileError::BadHeaderLength { declared, .. }) if declared == u64::from(u32::MAX)
        ));
        assert!(matches!(
            decode(&good[..good.len() - 1]),
            Err(FileError::SizeMismatch {
                declared: 3,
                actual: 2
            })
        ));
    }

    #[test]
    fn corrupt_data_and_wrong_digest_are_detected() {
        let mut message = encode("x.bin", None, b"payload");
        let last = message.len() - 1;
        message[last] ^= 1;
        assert!(matches!(
            decode(&message),
            Err(FileError::DigestMismatch { .. })
        ));

        let header = FileHeader {
            name: "x".into(),
            size: 2,
            sha256: "not hex".into(),
            mime: None,
        };
        assert!(matches!(
            decode(&encode_with_header(&header, b"ab")),
            Err(FileError::DigestMismatch { .. })
        ));
        let upper = FileHeader {
            sha256: sha256_hex(b"ab").to_ascii_uppercase(),
            ..header
        };
        assert!(decode(&encode_with_header(&upper, b"ab"))
            .unwrap()
            .is_some());
    }

    #[test]
    fn names_are_sanitized_to_one_safe_component() {
        let cases = [
            ("report.pdf", "report.pdf"),
            ("../../etc/passwd", "passwd"),
            ("..\\..\\boot.ini", "boot.ini"),
            ("/absolute/path.txt", "path.txt"),
            ("dir/", "file"),
            ("..", "file"),
            (".", "file"),
            ("", "file"),
            ("   ", "file"),
            (".bashrc", "bashrc"),
            ("...hidden..", "hidden"),
            ("a:b*c?.txt", "a_b_c_.txt"),
            ("line\nbreak\u{0}.txt", "line_break_.txt"),
            ("CON", "_CON"),
            ("nul.txt", "_nul.txt"),
            ("com1.log", "_com1.log"),
            ("console.log", "console.log"),
            ("héllo wörld.txt", "héllo wörld.txt"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize_file_name(input), expected, "{input:?}");
        }
        let long = format!("{}.tar.gz", "é".repeat(300));
        let out = sanitize_file_name(&long);
        assert!(out.len() <= MAX_NAME_LEN, "{}", out.len());
        assert!(out.ends_with(".gz") && out.starts_with('é'));
        let long_ext = "x".repeat(150) + "." + &"y".repeat(150);
        assert!(sanitize_file_name(&long_ext).len() <= MAX_NAME_LEN);
    }

    #[test]
    fn mime_guess_for_common_extensions() {
        assert_eq!(guess_mime("A.PNG"), Some("image/png"));
        assert_eq!(guess_mime("notes.txt"), Some("text/plain"));
        assert_eq!(guess_mime("noext"), None);
        assert_eq!(guess_mime("x.unknown"), None);
    }
}
