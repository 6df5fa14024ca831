//! Files in `join`: saving received files (sanitized names, never overwriting) and sending a
//! file to one peer with throttled progress events.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use p2pcf_client::{ClientHandle, SessionId};
use p2pcf_proto::file;
use tokio::sync::watch;

use super::output::{ErrorKind, Event, Output};
use super::OutgoingFile;

/// At most one progress event per transfer this often (plus the final one).
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// How many `name (n).ext` variants are tried before giving up.
const MAX_SUFFIX: u32 = 10_000;

/// Creates a new file in `dir` named after `name` (sanitized) and writes `data` to it. An
/// existing file is never replaced: `name (1).ext`, `name (2).ext`, … are tried instead.
pub(crate) fn save_unique(dir: &Path, name: &str, data: &[u8]) -> std::io::Result<PathBuf> {
    let name = file::sanitize_file_name(name);
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name.as_str(), ""),
    };
    for n in 0..=MAX_SUFFIX {
        let candidate = if n == 0 {
            dir.join(&name)
        } else {
            dir.join(format!("{stem} ({n}){ext}"))
        };
        let mut out = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        if let Err(e) = out.write_all(data).and_then(|()| out.sync_all()) {
            // Never leave a truncated file behind under the real name.
            drop(out);
            let _ = std::fs::remove_file(&candidate);
            return Err(e);
        }
        return Ok(candidate);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("too many files named like {name}"),
    ))
}

/// Decodes a file message from `from`, saves it and reports `file_received` (or an error
/// event: a corrupt or malformed file is never written).
pub(crate) async fn receive(
    output: &Output,
    save_dir: &Path,
    from: &SessionId,
    client_id: &str,
    message: &[u8],
) {
    let peer = Some(from.to_string());
    let decoded = match file::decode(message) {
        Ok(Some(decoded)) => decoded,
        Ok(None) => return,
        Err(e) => {
            output.emit(&Event::Error {
                kind: ErrorKind::FileInvalid,
                status: None,
                text: format!("file from {client_id} rejected: {e}"),
                peer,
            });
            return;
        }
    };
    let header = decoded.header;
    // Writing can take a while for big files; keep it off the async workers.
    let dir = save_dir.to_path_buf();
    let name = header.name.clone();
    let data = decoded.data.to_vec();
    let saved = tokio::task::spawn_blocking(move || save_unique(&dir, &name, &data)).await;
    match saved {
        Ok(Ok(path)) => output.emit(&Event::FileReceived {
            from: from.to_string(),
            client_id: client_id.to_owned(),
            name: header.name,
            size: header.size,
            sha256: header.sha256.to_ascii_lowercase(),
            mime: header.mime,
            path: path.display().to_string(),
        }),
        Ok(Err(e)) => output.emit(&Event::Error {
            kind: ErrorKind::FileSave,
            status: None,
            text: format!("cannot save file {:?} from {client_id}: {e}", header.name),
            peer,
        }),
        Err(e) => output.emit(&Event::Error {
            kind: ErrorKind::FileSave,
            status: None,
            text: format!("saving file {:?} from {client_id} failed: {e}", header.name),
            peer,
        }),
    }
}

/// Sends `file` to one peer, reporting progress in file bytes, then `file_sent` or an error.
pub(crate) async fn send(
    client: ClientHandle,
    output: Output,
    to: SessionId,
    client_id: String,
    file: Arc<OutgoingFile>,
) {
    let progress_event = |sent: u64| Event::FileProgress {
        to: to.to_string(),
        client_id: client_id.clone(),
        name: file.name.clone(),
        sent: sent.saturating_sub(file.overhead).min(file.size),
        total: file.size,
    };
    let (progress, mut updates) = watch::channel(0u64);
    let sending = client.send_with_progress(&to, file.message.clone(), progress);
    tokio::pin!(sending);
    let mut last_report: Option<Instant> = None;
    let result = loop {
        tokio::select! {
            result = &mut sending => break result,
            changed = updates.changed() => {
                if changed.is_err() {
                    break (&mut sending).await;
                }
                if last_report.is_none_or(|at| at.elapsed() >= PROGRESS_EVERY) {
                    last_report = Some(Instant::now());
                    let sent = *updates.borrow_and_update();
                    output.emit(&progress_event(sent));
                }
            }
        }
    };
    match result {
        Ok(()) => {
            output.emit(&progress_event(file.message.len() as u64));
            output.emit(&Event::FileSent {
                to: to.to_string(),
                client_id: client_id.clone(),
                name: file.name.clone(),
                size: file.size,
                sha256: file.sha256.clone(),
            });
        }
        Err(e) => output.emit(&Event::Error {
            kind: ErrorKind::FileSend,
            status: None,
            text: format!("sending {} to {client_id} failed: {e}", file.name),
            peer: Some(to.to_string()),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("p2pcf-cli-files-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn saving_never_overwrites_and_adds_a_suffix() {
        let dir = temp_dir();
        let first = save_unique(&dir, "report.pdf", b"one").unwrap();
        let second = save_unique(&dir, "report.pdf", b"two").unwrap();
        let third = save_unique(&dir, "sub/report.pdf", b"three").unwrap();
        let plain = save_unique(&dir, "README", b"r").unwrap();
        let plain2 = save_unique(&dir, "README", b"r2").unwrap();
        assert_eq!(first, dir.join("report.pdf"));
        assert_eq!(second, dir.join("report (1).pdf"));
        assert_eq!(third, dir.join("report (2).pdf"));
        assert_eq!(plain2, dir.join("README (1)"));
        assert_eq!(std::fs::read(&first).unwrap(), b"one");
        assert_eq!(std::fs::read(&second).unwrap(), b"two");
        assert_eq!(std::fs::read(&plain).unwrap(), b"r");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hostile_names_stay_inside_the_directory() {
        let dir = temp_dir();
        for name in ["../escape.txt", "/etc/passwd", "..", "a\\..\\..\\b.txt", ""] {
            let path = save_unique(&dir, name, b"x").unwrap();
            assert_eq!(path.parent(), Some(dir.as_path()), "{name:?} -> {path:?}");
        }
        assert!(!dir.parent().unwrap().join("escape.txt").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
