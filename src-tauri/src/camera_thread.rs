//! A camera as a `Send` video source: with V4L2 capture, `p2pcf_media::Camera` holds
//! non-`Send` buffers, while the encoder wants a source it can move to its thread. So the
//! camera lives on a thread of its own and hands over one captured frame at a time.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};

use p2pcf_media::{Camera, Frame, MediaError, VideoSource};

/// The camera's frames, captured on a dedicated thread. Dropping it ends the thread (after
/// the capture in progress).
pub struct CameraThread {
    path: PathBuf,
    size: (u32, u32),
    frames: Receiver<Result<Frame, MediaError>>,
}

impl CameraThread {
    /// Opens `path` on a new thread near `width`x`height`; returns once it is open (or not).
    pub fn open(path: &Path, width: u32, height: u32) -> Result<Self, MediaError> {
        let (ready_tx, ready) = sync_channel(1);
        // One frame waits for the encoder: at most one capture period old.
        let (frames_tx, frames) = sync_channel(1);
        let device = path.to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("camera".into())
            .spawn(move || {
                let mut camera = match Camera::open(&device, width, height) {
                    Ok(camera) => {
                        let _ = ready_tx.send(Ok(camera.size()));
                        camera
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while frames_tx.send(camera.capture()).is_ok() {}
            });
        let failed = |reason: String| MediaError::Camera {
            path: path.to_path_buf(),
            reason,
        };
        spawned.map_err(|e| failed(format!("cannot start its thread: {e}")))?;
        let size = ready
            .recv()
            .map_err(|_| failed("its thread ended".into()))??;
        Ok(CameraThread {
            path: path.to_path_buf(),
            size,
            frames,
        })
    }
}

impl VideoSource for CameraThread {
    fn next_frame(&mut self) -> Result<Frame, MediaError> {
        self.frames.recv().map_err(|_| MediaError::Camera {
            path: self.path.clone(),
            reason: "capture stopped".into(),
        })?
    }

    fn size(&self) -> (u32, u32) {
        self.size
    }
}
