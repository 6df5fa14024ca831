//! Screen capture under a real Xvfb, and camera listing/opening on a machine without cameras.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use p2pcf_media::{list_cameras, Camera, MediaError, ScreenCapture, VideoSource};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ChangeWindowAttributesAux, ConnectionExt as _};
use x11rb::wrapper::ConnectionExt as _;

/// An Xvfb server on a free display number, killed on drop.
struct Xvfb {
    child: Child,
    display: String,
    /// Held open for the server's lifetime: an X server that sees its last
    /// client leave resets, dropping connections made meanwhile.
    _keepalive: x11rb::rust_connection::RustConnection,
}

impl Xvfb {
    /// Tries display numbers from `first` on; a number taken by another X server
    /// (another test may start one at the same moment) makes Xvfb exit, and the
    /// next one is tried.
    fn start(first: u32, width: u32, height: u32) -> Xvfb {
        for number in first..first + 100 {
            if std::path::Path::new(&format!("/tmp/.X{number}-lock")).exists()
                || std::path::Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
            {
                continue;
            }
            let display = format!(":{number}");
            let screen = format!("{width}x{height}x24");
            let mut child = Command::new("/usr/bin/Xvfb")
                .args([
                    display.as_str(),
                    "-screen",
                    "0",
                    &screen,
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb must be installed at /usr/bin/Xvfb");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if child.try_wait().expect("wait").is_some() {
                    break; // display taken: try the next number
                }
                if let Ok((conn, _)) = x11rb::connect(Some(&display)) {
                    // Connected while our Xvfb is still running: it is ours.
                    if child.try_wait().expect("wait").is_none() {
                        return Xvfb {
                            child,
                            display,
                            _keepalive: conn,
                        };
                    }
                    break;
                }
                assert!(Instant::now() < deadline, "Xvfb {display} did not come up");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("no free X display number from {first}");
    }

    /// Fills the root window with one 0xRRGGBB colour.
    fn paint_root(&self, rgb: u32) {
        let (conn, screen) = x11rb::connect(Some(&self.display)).expect("connect");
        let root = conn.setup().roots[screen].root;
        conn.change_window_attributes(
            root,
            &ChangeWindowAttributesAux::new().background_pixel(rgb),
        )
        .expect("change attributes");
        conn.clear_area(false, root, 0, 0, 0, 0).expect("clear");
        conn.sync().expect("sync");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM lets Xvfb remove its /tmp/.X<n>-lock; SIGKILL would leave it behind.
        let terminated = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !terminated {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn mean(plane: &[u8]) -> u32 {
    (plane.iter().map(|&p| u64::from(p)).sum::<u64>() / plane.len() as u64) as u32
}

#[test]
fn screen_capture_reads_the_xvfb_root_window_in_colour() {
    let x = Xvfb::start(90, 642, 481);
    let mut screen = ScreenCapture::open(Some(&x.display)).expect("open");
    // 481 is odd: the capture crops to an even size.
    assert_eq!(screen.size(), (642, 480));

    x.paint_root(0xFF0000);
    let red = screen.next_frame().expect("capture");
    assert_eq!((red.width(), red.height()), (642, 480));
    assert!(red.capture_time_us() > 1_600_000_000_000_000);
    // BT.601 studio swing red: Y 82, U 90, V 240.
    let (y, u, v) = (mean(red.y()), mean(red.u()), mean(red.v()));
    assert!(
        y.abs_diff(82) <= 2 && u.abs_diff(90) <= 2 && v.abs_diff(240) <= 2,
        "{y} {u} {v}"
    );

    x.paint_root(0x0000FF);
    let blue = screen.next_frame().expect("capture");
    let (y, u, v) = (mean(blue.y()), mean(blue.u()), mean(blue.v()));
    assert!(
        y.abs_diff(41) <= 2 && u.abs_diff(240) <= 2 && v.abs_diff(110) <= 2,
        "{y} {u} {v}"
    );
}

#[test]
fn screen_capture_scales_to_the_requested_size() {
    let x = Xvfb::start(190, 1280, 720);
    let mut screen = ScreenCapture::open(Some(&x.display))
        .expect("open")
        .scaled_to(640, 360)
        .expect("scale");
    x.paint_root(0xFFFFFF);
    assert_eq!(screen.size(), (640, 360));
    let frame = screen.next_frame().expect("capture");
    assert_eq!((frame.width(), frame.height()), (640, 360));
    assert!(frame.y().iter().all(|&y| y == 235));
}

#[test]
fn screen_capture_without_an_x_server_is_an_error() {
    let err = ScreenCapture::open(Some(":4999")).expect_err("no server on :4999");
    assert!(matches!(err, MediaError::ScreenCapture(_)), "{err}");
}

#[test]
fn camera_listing_matches_dev_video_nodes() {
    let nodes = std::fs::read_dir("/dev")
        .expect("/dev")
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("video")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count();
    let cams = list_cameras();
    assert_eq!(cams.len(), nodes);
    assert!(cams.iter().all(|c| !c.name.is_empty()));
}

#[test]
fn opening_a_missing_camera_says_so() {
    let err = Camera::open("/dev/video-does-not-exist", 640, 480).expect_err("missing device");
    match err {
        MediaError::Camera { path, reason } => {
            assert_eq!(path, std::path::Path::new("/dev/video-does-not-exist"));
            assert!(reason.contains("no such video device"), "{reason}");
        }
        other => panic!("unexpected error {other}"),
    }
}
