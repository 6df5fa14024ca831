//! Pattern → H264 encode → decode → stamp, and decoder robustness.

use p2pcf_media::{
    is_keyframe, nal_types, nal_units, read_stamp, EncoderSettings, H264Decoder, H264Encoder,
    TestPattern,
};

const T0: u64 = 1_732_560_000_000_000;

/// Encodes `frames` pattern frames and checks every decoded stamp; returns total bytes.
fn stamps_survive(width: u32, height: u32, bitrate_bps: u32, frames: u32) -> usize {
    let mut pattern = TestPattern::new(width, height).expect("pattern");
    let mut encoder = H264Encoder::new(EncoderSettings {
        width,
        height,
        fps: 30,
        bitrate_bps,
    })
    .expect("encoder");
    let mut decoder = H264Decoder::new().expect("decoder");
    let mut total = 0;
    for n in 0..frames {
        let capture = T0 + u64::from(n) * 33_333;
        let frame = pattern.next_frame(capture);
        let au = encoder.encode(&frame).expect("encode");
        assert!(!au.is_empty(), "frame {n} produced no bytes");
        total += au.len();
        let decoded = decoder
            .decode(&au)
            .expect("decode")
            .unwrap_or_else(|| panic!("frame {n} gave no picture"));
        assert_eq!((decoded.width, decoded.height), (width, height));
        let stamp = read_stamp(&decoded.rgba, width, height)
            .unwrap_or_else(|| panic!("{width}x{height}: stamp of frame {n} unreadable"));
        assert_eq!(stamp.frame_number, n);
        assert_eq!(stamp.capture_time_us, capture);
    }
    total
}

#[test]
fn stamps_survive_h264_at_640x480_1mbit_for_90_frames() {
    let bytes = stamps_survive(640, 480, 1_000_000, 90);
    let kbps = bytes as f64 * 8.0 / 3.0 / 1000.0;
    eprintln!("640x480: {kbps:.0} kbit/s");
    // Rate control should land near the target (generous: IDR + short run).
    assert!(kbps < 1_500.0, "{kbps} kbit/s over 1.5x the target");
}

#[test]
fn stamps_survive_h264_at_1280x720_2_5mbit_for_90_frames() {
    let bytes = stamps_survive(1280, 720, 2_500_000, 90);
    let kbps = bytes as f64 * 8.0 / 3.0 / 1000.0;
    eprintln!("1280x720: {kbps:.0} kbit/s");
    assert!(kbps < 3_750.0, "{kbps} kbit/s over 1.5x the target");
}

#[test]
fn stamps_survive_h264_at_320x240_300kbit() {
    stamps_survive(320, 240, 300_000, 60);
}

#[test]
fn keyframes_carry_sps_pps_and_constrained_baseline_profile() {
    let settings = EncoderSettings {
        width: 640,
        height: 480,
        fps: 30,
        bitrate_bps: 1_000_000,
    };
    let mut encoder = H264Encoder::new(settings).expect("encoder");
    assert_eq!(encoder.profile_level_id(), "42e01f");
    let mut pattern = TestPattern::new(640, 480).expect("pattern");
    let first = encoder.encode(&pattern.next_frame(T0)).expect("encode");
    assert_eq!(nal_types(&first), vec![7, 8, 5], "SPS, PPS, IDR");
    let sps = nal_units(&first)[0];
    // profile_idc, constraint flags, level_idc as the SDP profile-level-id.
    // profile_idc 66 with constraint_set1 = constrained baseline; level 3.1.
    // OpenH264 writes flags 0xc0 where the SDP says 0xe0: same profile.
    assert_eq!(sps[1], 0x42);
    assert_eq!(sps[2] & 0x40, 0x40, "constraint_set1 flag");
    assert_eq!(sps[3], 0x1f);
    let second = encoder.encode(&pattern.next_frame(T0 + 1)).expect("encode");
    assert!(!is_keyframe(&second));
    assert_eq!(nal_types(&second), vec![1]);
    encoder.force_keyframe();
    let forced = encoder.encode(&pattern.next_frame(T0 + 2)).expect("encode");
    assert_eq!(nal_types(&forced), vec![7, 8, 5]);
    // Periodic IDR after 3 s worth of frames.
    let mut saw_periodic = false;
    for _ in 0..95 {
        let au = encoder.encode(&pattern.next_frame(T0 + 3)).expect("encode");
        if is_keyframe(&au) {
            assert_eq!(nal_types(&au), vec![7, 8, 5]);
            saw_periodic = true;
        }
    }
    assert!(saw_periodic, "no periodic IDR within 95 frames");
}

#[test]
fn encoder_refuses_frames_of_the_wrong_size() {
    let mut encoder = H264Encoder::new(EncoderSettings {
        width: 640,
        height: 480,
        fps: 30,
        bitrate_bps: 1_000_000,
    })
    .expect("encoder");
    let mut pattern = TestPattern::new(320, 240).expect("pattern");
    assert!(encoder.encode(&pattern.next_frame(0)).is_err());
    assert!(H264Encoder::new(EncoderSettings {
        width: 641,
        height: 480,
        fps: 30,
        bitrate_bps: 1_000_000
    })
    .is_err());
}
