//! Files in `join`: saving received files (sanitized names, never overwriting) and sending a
//! file to one peer with throttled progress events.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use p2pcf_client::{ClientHandle, SessionId};
use p2pcf_proto::file;

use super::output::{ErrorKind, Event, Output};
use super::OutgoingFile;

/// At most one progress event per transfer this often (plus the final one).
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

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
    let saved =
        tokio::task::spawn_blocking(move || p2pcf_client::files::save_unique(&dir, &name, &data))
            .await;
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
        sent: file.file_bytes_sent(sent),
        total: file.size,
    };
    let result = client
        .send_reporting(&to, file.message.clone(), PROGRESS_EVERY, |sent| {
            output.emit(&progress_event(sent));
        })
        .await;
    match result {
        Ok(()) => {
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
