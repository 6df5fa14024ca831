//! V4L2 cameras: listing through sysfs (always), capture with the `v4l2-capture` feature.
//!
//! Listing needs no ioctl: `/dev/video*` nodes, named by
//! `/sys/class/video4linux/videoN/name`. Capture uses the `linux-video` crate
//! (ioctls via `nix`, no bindgen/libclang), YUYV at the requested size, converted to I420.

use std::path::{Path, PathBuf};

#[cfg(feature = "v4l2-capture")]
use crate::unix_time_us;
use crate::Frame;
use crate::{MediaError, VideoSource};

/// A video device node and its driver-given name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraInfo {
    /// Device node, e.g. `/dev/video0`.
    pub path: PathBuf,
    /// Human-readable name from sysfs (the node's file name if sysfs has none).
    pub name: String,
}

/// Lists `/dev/video*` nodes, sorted by path. Empty if there are none.
///
/// A webcam often exposes two nodes (capture and metadata); both are listed.
pub fn list_cameras() -> Vec<CameraInfo> {
    list_cameras_in(Path::new("/dev"), Path::new("/sys/class/video4linux"))
}

fn list_cameras_in(dev: &Path, sysfs: &Path) -> Vec<CameraInfo> {
    let Ok(entries) = std::fs::read_dir(dev) else {
        return Vec::new();
    };
    let mut cameras: Vec<CameraInfo> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let index = file_name.strip_prefix("video")?;
            if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let name = std::fs::read_to_string(sysfs.join(&file_name).join("name"))
                .map(|n| n.trim().to_owned())
                .ok()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| file_name.clone());
            Some(CameraInfo {
                path: entry.path(),
                name,
            })
        })
        .collect();
    cameras.sort_by(|a, b| a.path.cmp(&b.path));
    cameras
}

/// An open camera delivering I420 frames.
pub struct Camera {
    path: PathBuf,
    size: (u32, u32),
    #[cfg(feature = "v4l2-capture")]
    stream: linux_video::Stream<linux_video::types::In, linux_video::types::Mmap>,
    #[cfg(feature = "v4l2-capture")]
    bytes_per_line: usize,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera")
            .field("path", &self.path)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

fn camera_err(path: &Path, reason: impl Into<String>) -> MediaError {
    MediaError::Camera {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl Camera {
    /// Opens `path` for YUYV capture near `width`x`height` (the driver may pick
    /// another size; [`VideoSource::size`] tells the one in use).
    ///
    /// A missing node gives [`MediaError::Camera`] saying so. Without the
    /// `v4l2-capture` feature, an existing node gives an error naming the feature.
    pub fn open(path: impl AsRef<Path>, width: u32, height: u32) -> Result<Self, MediaError> {
        let path = path.as_ref();
        crate::frame::check_dimensions(width, height)?;
        match std::fs::metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(camera_err(path, "no such video device"));
            }
            Err(e) => return Err(camera_err(path, format!("cannot access device: {e}"))),
        }
        Self::open_device(path, width, height)
    }

    #[cfg(not(feature = "v4l2-capture"))]
    fn open_device(path: &Path, _width: u32, _height: u32) -> Result<Self, MediaError> {
        Err(camera_err(
            path,
            "camera capture needs p2pcf-media's `v4l2-capture` feature",
        ))
    }

    #[cfg(feature = "v4l2-capture")]
    fn open_device(path: &Path, width: u32, height: u32) -> Result<Self, MediaError> {
        use linux_video::types::{BufferType, ContentType, FourCc, PixFormat};
        let dev = linux_video::Device::open(path).map_err(|e| camera_err(path, e.to_string()))?;
        let mut format = dev
            .format(BufferType::VideoCapture)
            .map_err(|e| camera_err(path, format!("get format: {e}")))?;
        let pix = format
            .try_mut::<PixFormat>()
            .ok_or_else(|| camera_err(path, "not a single-planar capture device"))?;
        pix.set_width(width);
        pix.set_height(height);
        pix.set_pixel_format(FourCc::Yuyv);
        dev.set_format(&mut format)
            .map_err(|e| camera_err(path, format!("set YUYV {width}x{height}: {e}")))?;
        let pix = format
            .try_ref::<PixFormat>()
            .ok_or_else(|| camera_err(path, "format changed type"))?;
        if pix.pixel_format() != FourCc::Yuyv {
            return Err(camera_err(path, "device does not offer YUYV"));
        }
        let size = (pix.width() & !1, pix.height() & !1);
        crate::frame::check_dimensions(size.0, size.1)?;
        let bytes_per_line = (pix.bytes_per_line() as usize).max(pix.width() as usize * 2);
        let stream = dev
            .stream(ContentType::Video, 4)
            .map_err(|e| camera_err(path, format!("start streaming: {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            size,
            stream,
            bytes_per_line,
        })
    }

    /// The device node this camera was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for the next captured picture.
    #[cfg(feature = "v4l2-capture")]
    pub fn capture(&mut self) -> Result<Frame, MediaError> {
        let buffer = self
            .stream
            .next()
            .map_err(|e| camera_err(&self.path, format!("dequeue: {e}")))?;
        let data = buffer.lock();
        let captured_at = unix_time_us();
        let frame = yuyv_to_i420(data.as_ref(), self.bytes_per_line, self.size.0, self.size.1)
            .map_err(|e| camera_err(&self.path, e.to_string()))?;
        let mut frame = frame;
        frame.set_capture_time_us(captured_at);
        Ok(frame)
    }

    /// Without the `v4l2-capture` feature a camera cannot be opened, so this is unreachable.
    #[cfg(not(feature = "v4l2-capture"))]
    pub fn capture(&mut self) -> Result<Frame, MediaError> {
        Err(camera_err(&self.path, "built without `v4l2-capture`"))
    }
}

impl VideoSource for Camera {
    fn next_frame(&mut self) -> Result<Frame, MediaError> {
        self.capture()
    }

    fn size(&self) -> (u32, u32) {
        self.size
    }
}

/// Converts packed YUYV (4:2:2) rows to an I420 frame, averaging chroma of row pairs.
#[cfg_attr(not(feature = "v4l2-capture"), allow(dead_code))]
pub(crate) fn yuyv_to_i420(
    src: &[u8],
    stride: usize,
    width: u32,
    height: u32,
) -> Result<Frame, MediaError> {
    let mut frame = Frame::new(width, height)?;
    let (w, h) = (width as usize, height as usize);
    let needed = stride * (h - 1) + w * 2;
    if stride < w * 2 || src.len() < needed {
        return Err(MediaError::BufferSize {
            expected: needed,
            actual: src.len(),
        });
    }
    let (y_plane, u_plane, v_plane) = frame.planes_mut();
    for row in 0..h {
        let line = &src[row * stride..row * stride + w * 2];
        for (y, pair) in y_plane[row * w..(row + 1) * w]
            .iter_mut()
            .zip(line.chunks_exact(2))
        {
            *y = pair[0];
        }
    }
    for crow in 0..h / 2 {
        let top = &src[2 * crow * stride..2 * crow * stride + w * 2];
        let bottom = &src[(2 * crow + 1) * stride..(2 * crow + 1) * stride + w * 2];
        let out = crow * (w / 2)..(crow + 1) * (w / 2);
        let cells = top.chunks_exact(4).zip(bottom.chunks_exact(4));
        for ((t, b), (u, v)) in cells.zip(u_plane[out.clone()].iter_mut().zip(&mut v_plane[out])) {
            *u = (u16::from(t[1]) + u16::from(b[1])).div_ceil(2) as u8;
            *v = (u16::from(t[3]) + u16::from(b[3])).div_ceil(2) as u8;
        }
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_reads_names_from_sysfs_and_skips_other_nodes() {
        let root = std::env::temp_dir().join(format!("p2pcf-media-cams-{}", std::process::id()));
        let (dev, sys) = (root.join("dev"), root.join("sys"));
        std::fs::create_dir_all(sys.join("video0")).expect("mkdir");
        std::fs::create_dir_all(&dev).expect("mkdir");
        for node in ["video0", "video10", "videoX", "null"] {
            std::fs::write(dev.join(node), b"").expect("node");
        }
        std::fs::write(sys.join("video0/name"), "Integrated Camera\n").expect("name");
        let cams = list_cameras_in(&dev, &sys);
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(
            cams,
            vec![
                CameraInfo {
                    path: dev.join("video0"),
                    name: "Integrated Camera".into()
                },
                CameraInfo {
                    path: dev.join("video10"),
                    name: "video10".into()
                },
            ]
        );
    }

    #[test]
    fn yuyv_converts_luma_exactly_and_averages_chroma() {
        // 2x2: row 0 = Y 10,20 U 100 V 200; row 1 = Y 30,40 U 110 V 210.
        let src = [10, 100, 20, 200, 30, 110, 40, 210];
        let f = yuyv_to_i420(&src, 4, 2, 2).expect("convert");
        assert_eq!(f.y(), &[10, 20, 30, 40]);
        assert_eq!((f.u(), f.v()), (&[105u8][..], &[205u8][..]));
        assert!(yuyv_to_i420(&src[..7], 4, 2, 2).is_err());
    }
}
