//! H264 encoding and decoding with OpenH264 (compiled from source by the `openh264` crate).
//!
//! The encoder is set up for real-time WebRTC: constrained baseline (no B-frames,
//! CAVLC), one slice per frame, bitrate rate control, no frame skipping (every input
//! frame yields an access unit), SPS and PPS in front of every IDR, and an IDR every
//! three seconds besides the ones asked for with [`H264Encoder::force_keyframe`].
//! Output is Annex-B (`00 00 00 01` start codes), ready for an RTP packetizer in
//! packetization-mode 1.

use openh264::decoder::Decoder;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Level,
    Profile, RateControlMode, SpsPpsStrategy, UsageType,
};
use openh264::formats::{YUVSlices, YUVSource};
use openh264::OpenH264API;

use crate::frame::{check_dimensions, i420_to_rgba, I420Planes};
use crate::{Frame, MediaError};

/// What the encoder should produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncoderSettings {
    /// Frame width in pixels (even).
    pub width: u32,
    /// Frame height in pixels (even).
    pub height: u32,
    /// Nominal frames per second (rate control and keyframe interval use it).
    pub fps: u32,
    /// Target bitrate in bits per second.
    pub bitrate_bps: u32,
}

/// Seconds between periodic IDR frames.
const KEYFRAME_INTERVAL_S: u32 = 3;

/// An H264 encoder producing Annex-B access units.
pub struct H264Encoder {
    inner: Encoder,
    settings: EncoderSettings,
    level_idc: u8,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The lowest level whose frame size and macroblock rate fit (Table A-1 of H.264).
fn level_for(settings: &EncoderSettings) -> (Level, u8) {
    let mbs = u64::from(settings.width.div_ceil(16)) * u64::from(settings.height.div_ceil(16));
    let mb_rate = mbs * u64::from(settings.fps);
    if mbs <= 3600 && mb_rate <= 108_000 {
        (Level::Level_3_1, 31)
    } else if mbs <= 5120 && mb_rate <= 216_000 {
        (Level::Level_3_2, 32)
    } else if mbs <= 8192 && mb_rate <= 245_760 {
        (Level::Level_4_0, 40)
    } else {
        (Level::Level_5_1, 51)
    }
}

impl H264Encoder {
    /// Creates an encoder; frames passed to [`encode`](Self::encode) must match the size.
    pub fn new(settings: EncoderSettings) -> Result<Self, MediaError> {
        check_dimensions(settings.width, settings.height)?;
        if settings.width > 3840 || settings.height > 2160 {
            return Err(MediaError::InvalidDimensions {
                width: settings.width,
                height: settings.height,
                reason: "OpenH264 encodes at most 3840x2160",
            });
        }
        if settings.fps == 0 || settings.fps > 240 || settings.bitrate_bps < 10_000 {
            return Err(MediaError::Encoder(format!(
                "unusable settings: {} fps, {} bit/s",
                settings.fps, settings.bitrate_bps
            )));
        }
        let (level, level_idc) = level_for(&settings);
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(settings.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(settings.fps as f32))
            .rate_control_mode(RateControlMode::Bitrate)
            .skip_frames(false)
            .usage_type(UsageType::CameraVideoRealTime)
            .profile(Profile::Baseline)
            .level(level)
            .complexity(Complexity::Low)
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            .intra_frame_period(IntraFramePeriod::from_num_frames(
                settings.fps * KEYFRAME_INTERVAL_S,
            ))
            .num_threads(1);
        let inner = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| MediaError::Encoder(e.to_string()))?;
        Ok(Self {
            inner,
            settings,
            level_idc,
        })
    }

    /// The settings this encoder was made with.
    pub fn settings(&self) -> EncoderSettings {
        self.settings
    }

    /// The SDP `profile-level-id` of the stream: constrained baseline at the level
    /// the frame size and rate need (`42e01f` up to 1280x720 at 30 fps).
    pub fn profile_level_id(&self) -> String {
        format!("42e0{:02x}", self.level_idc)
    }

    /// Encodes one frame into an Annex-B access unit (SPS+PPS+IDR for keyframes).
    pub fn encode(&mut self, frame: &Frame) -> Result<Vec<u8>, MediaError> {
        if (frame.width(), frame.height()) != (self.settings.width, self.settings.height) {
            return Err(MediaError::InvalidDimensions {
                width: frame.width(),
                height: frame.height(),
                reason: "frame size differs from the encoder settings",
            });
        }
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        let source = YUVSlices::new((frame.y(), frame.u(), frame.v()), (w, h), (w, w / 2, w / 2));
        debug_assert_eq!(source.dimensions(), (w, h));
        let timestamp_ms = frame.capture_time_us() / 1000;
        let stream = self
            .inner
            .encode_at(&source, openh264::Timestamp::from_millis(timestamp_ms))
            .map_err(|e| MediaError::Encoder(e.to_string()))?;
        let frame_type = stream.frame_type();
        if frame_type == FrameType::Invalid {
            return Err(MediaError::Encoder(
                "encoder produced an invalid frame".into(),
            ));
        }
        let out = stream.to_vec();
        tracing::trace!(?frame_type, bytes = out.len(), "encoded frame");
        Ok(out)
    }

    /// Makes the next encoded frame an IDR (with SPS and PPS), e.g. after a PLI.
    pub fn force_keyframe(&mut self) {
        self.inner.force_intra_frame();
    }
}

/// A decoded picture as packed RGBA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width*height*4` bytes, alpha 255.
    pub rgba: Vec<u8>,
}

/// An H264 decoder taking Annex-B access units.
pub struct H264Decoder {
    inner: Decoder,
}

impl std::fmt::Debug for H264Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Decoder").finish_non_exhaustive()
    }
}

impl H264Decoder {
    /// Creates a decoder.
    pub fn new() -> Result<Self, MediaError> {
        let inner = Decoder::new().map_err(|e| MediaError::Decoder(e.to_string()))?;
        Ok(Self { inner })
    }

    /// Decodes Annex-B data (normally one access unit).
    ///
    /// `Ok(None)` means no picture is ready yet (e.g. only SPS/PPS were given).
    /// Corrupt input gives `Err`, never a panic; the decoder stays usable and
    /// recovers at the next IDR.
    pub fn decode(&mut self, annexb: &[u8]) -> Result<Option<DecodedFrame>, MediaError> {
        if annexb.is_empty() {
            return Ok(None);
        }
        let Some(yuv) = self
            .inner
            .decode(annexb)
            .map_err(|e| MediaError::Decoder(e.to_string()))?
        else {
            return Ok(None);
        };
        let (w, h) = yuv.dimensions();
        let (y_stride, u_stride, v_stride) = yuv.strides();
        let (width, height) = (
            u32::try_from(w).map_err(|_| MediaError::Decoder("absurd width".into()))?,
            u32::try_from(h).map_err(|_| MediaError::Decoder("absurd height".into()))?,
        );
        check_dimensions(width, height)
            .map_err(|e| MediaError::Decoder(format!("decoded picture: {e}")))?;
        let planes = I420Planes {
            width,
            height,
            y: yuv.y(),
            y_stride,
            u: yuv.u(),
            u_stride,
            v: yuv.v(),
            v_stride,
        };
        let mut rgba = vec![0u8; w * h * 4];
        i420_to_rgba(&planes, &mut rgba)
            .map_err(|e| MediaError::Decoder(format!("decoded picture: {e}")))?;
        Ok(Some(DecodedFrame {
            width,
            height,
            rgba,
        }))
    }
}

/// Splits Annex-B data into NAL units (without start codes).
pub fn nal_units(annexb: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= annexb.len() {
        if annexb[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut units = Vec::with_capacity(starts.len());
    for (n, &start) in starts.iter().enumerate() {
        let mut end = starts.get(n + 1).map_or(annexb.len(), |&next| next - 3);
        // A 4-byte start code leaves one zero byte at the end of the previous unit.
        while end > start && annexb[end - 1] == 0 && n + 1 < starts.len() {
            end -= 1;
        }
        units.push(&annexb[start..end]);
    }
    units
}

/// NAL unit types (5 = IDR slice, 7 = SPS, 8 = PPS, 1 = non-IDR slice) in order.
pub fn nal_types(annexb: &[u8]) -> Vec<u8> {
    nal_units(annexb)
        .iter()
        .filter_map(|nal| nal.first().map(|b| b & 0x1F))
        .collect()
}

/// Whether an access unit contains an IDR slice.
pub fn is_keyframe(annexb: &[u8]) -> bool {
    nal_types(annexb).contains(&5)
}
