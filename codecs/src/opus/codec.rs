//! The libopus encoder and decoder, wrapped for talko's media path.
//!
//! This module owns talko's use of libopus (through the `opus` crate): creating an
//! encoder or decoder, encoding 16-bit PCM into a caller-owned buffer, decoding with
//! in-band FEC, packet-loss concealment (decoding a missing packet), and the encoder
//! settings talko tunes (bitrate, complexity, FEC, DTX, expected loss). It must never
//! allocate per call: creation allocates the codec state once; `encode`, `decode`,
//! `decode_fec`, `conceal` and the setters only touch that state and the caller's
//! buffers (a counting-allocator test below proves it). Errors are a small `Copy` enum.

use core::fmt;

/// The sample rate talko runs Opus at (the RTP clock of Opus, RFC 7587).
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms mono frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
/// The largest Opus packet talko produces or accepts in one RTP payload.
pub const MAX_PACKET: usize = 1275;

/// What libopus reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpusError {
    /// An argument was out of range (a sample rate, a frame size, a setting).
    BadArg,
    /// The output buffer is too small.
    BufferTooSmall,
    /// libopus detected an internal error.
    Internal,
    /// The packet is corrupt.
    InvalidPacket,
    /// The request is not implemented by this libopus.
    Unimplemented,
    /// The codec state is invalid.
    InvalidState,
    /// libopus could not allocate its state.
    AllocFail,
    /// Any other failure.
    Unknown,
}

impl fmt::Display for OpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpusError::BadArg => "Opus argument out of range",
            OpusError::BufferTooSmall => "Opus output buffer too small",
            OpusError::Internal => "Opus internal error",
            OpusError::InvalidPacket => "corrupt Opus packet",
            OpusError::Unimplemented => "Opus request not implemented",
            OpusError::InvalidState => "invalid Opus codec state",
            OpusError::AllocFail => "Opus could not allocate its state",
            OpusError::Unknown => "unknown Opus error",
        })
    }
}

impl std::error::Error for OpusError {}

impl From<opus::Error> for OpusError {
    fn from(e: opus::Error) -> Self {
        match e.code() {
            opus::ErrorCode::BadArg => OpusError::BadArg,
            opus::ErrorCode::BufferTooSmall => OpusError::BufferTooSmall,
            opus::ErrorCode::InternalError => OpusError::Internal,
            opus::ErrorCode::InvalidPacket => OpusError::InvalidPacket,
            opus::ErrorCode::Unimplemented => OpusError::Unimplemented,
            opus::ErrorCode::InvalidState => OpusError::InvalidState,
            opus::ErrorCode::AllocFail => OpusError::AllocFail,
            opus::ErrorCode::Unknown => OpusError::Unknown,
        }
    }
}

fn channels(n: u8) -> Result<opus::Channels, OpusError> {
    match n {
        1 => Ok(opus::Channels::Mono),
        2 => Ok(opus::Channels::Stereo),
        _ => Err(OpusError::BadArg),
    }
}

/// What an encoder is tuned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Application {
    /// Speech (VoIP): best intelligibility.
    Voip,
    /// Music and general audio.
    Audio,
    /// Lowest delay, CELT only.
    LowDelay,
}

/// An Opus encoder (libopus `OpusEncoder`).
#[derive(Debug)]
pub struct Encoder {
    inner: opus::Encoder,
    channels: u8,
}

impl Encoder {
    /// Creates an encoder for `channels` (1 or 2) at `sample_rate` (8, 12, 16, 24 or
    /// 48 kHz). Allocates the codec state once.
    pub fn new(sample_rate: u32, channels_n: u8, app: Application) -> Result<Self, OpusError> {
        let app = match app {
            Application::Voip => opus::Application::Voip,
            Application::Audio => opus::Application::Audio,
            Application::LowDelay => opus::Application::LowDelay,
        };
        let inner = opus::Encoder::new(sample_rate, channels(channels_n)?, app)?;
        Ok(Encoder {
            inner,
            channels: channels_n,
        })
    }

    /// A mono 48 kHz speech encoder, talko's default.
    pub fn voip_mono() -> Result<Self, OpusError> {
        Encoder::new(SAMPLE_RATE, 1, Application::Voip)
    }

    /// The number of channels.
    pub fn channels(&self) -> u8 {
        self.channels
    }

    /// Encodes one frame of interleaved PCM (2.5 to 60 ms) into `out`, returning the
    /// packet length. With DTX on, a packet of 1–2 bytes means "nothing to send".
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, OpusError> {
        Ok(self.inner.encode(pcm, out)?)
    }

    /// Sets the target bitrate in bits per second.
    pub fn set_bitrate(&mut self, bps: i32) -> Result<(), OpusError> {
        Ok(self.inner.set_bitrate(opus::Bitrate::Bits(bps))?)
    }

    /// Sets the complexity, 0 (cheapest) to 10.
    pub fn set_complexity(&mut self, complexity: i32) -> Result<(), OpusError> {
        Ok(self.inner.set_complexity(complexity)?)
    }

    /// Turns in-band forward error correction on or off.
    pub fn set_fec(&mut self, on: bool) -> Result<(), OpusError> {
        Ok(self.inner.set_inband_fec(on)?)
    }

    /// Turns discontinuous transmission on or off.
    pub fn set_dtx(&mut self, on: bool) -> Result<(), OpusError> {
        Ok(self.inner.set_dtx(on)?)
    }

    /// Tells the encoder how much packet loss to expect (0–100 %), which sizes FEC.
    pub fn set_packet_loss_pct(&mut self, pct: i32) -> Result<(), OpusError> {
        Ok(self.inner.set_packet_loss_perc(pct)?)
    }

    /// The encoder's lookahead in samples at its sample rate.
    pub fn lookahead(&mut self) -> Result<i32, OpusError> {
        Ok(self.inner.get_lookahead()?)
    }

    /// Resets the codec state as if freshly created (keeps the settings).
    pub fn reset(&mut self) -> Result<(), OpusError> {
        Ok(self.inner.reset_state()?)
    }
}

/// An Opus decoder (libopus `OpusDecoder`).
#[derive(Debug)]
pub struct Decoder {
    inner: opus::Decoder,
    channels: u8,
}

impl Decoder {
    /// Creates a decoder for `channels` (1 or 2) at `sample_rate`.
    pub fn new(sample_rate: u32, channels_n: u8) -> Result<Self, OpusError> {
        Ok(Decoder {
            inner: opus::Decoder::new(sample_rate, channels(channels_n)?)?,
            channels: channels_n,
        })
    }

    /// A mono 48 kHz decoder, talko's default.
    pub fn mono() -> Result<Self, OpusError> {
        Decoder::new(SAMPLE_RATE, 1)
    }

    /// The number of channels.
    pub fn channels(&self) -> u8 {
        self.channels
    }

    /// Decodes `packet` into `out`, returning samples per channel. An empty `packet`
    /// means "lost" (concealment). With `fec`, decodes the in-band FEC data of `packet`
    /// to reconstruct the packet *before* it; `out` must then be exactly the lost
    /// packet's duration.
    pub fn decode(
        &mut self,
        packet: &[u8],
        out: &mut [i16],
        fec: bool,
    ) -> Result<usize, OpusError> {
        Ok(self.inner.decode(packet, out, fec)?)
    }

    /// Reconstructs a lost packet from the FEC data of the packet after it; `out` is the
    /// lost packet's duration (e.g. [`FRAME_SAMPLES`] per channel for 20 ms).
    pub fn decode_fec(&mut self, next_packet: &[u8], out: &mut [i16]) -> Result<usize, OpusError> {
        Ok(self.inner.decode(next_packet, out, true)?)
    }

    /// Conceals one lost packet of `out.len()` samples (packet-loss concealment).
    pub fn conceal(&mut self, out: &mut [i16]) -> Result<usize, OpusError> {
        Ok(self.inner.decode(&[], out, false)?)
    }

    /// Resets the codec state.
    pub fn reset(&mut self) -> Result<(), OpusError> {
        Ok(self.inner.reset_state()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, start: usize, out: &mut [i16]) {
        for (i, s) in out.iter_mut().enumerate() {
            let t = (start + i) as f32 / SAMPLE_RATE as f32;
            *s = (8000.0 * (2.0 * core::f32::consts::PI * freq * t).sin()) as i16;
        }
    }

    fn energy(pcm: &[i16]) -> f64 {
        pcm.iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum::<f64>()
            / pcm.len() as f64
    }

    #[test]
    fn encode_then_decode_keeps_a_tone_audible() {
        let mut enc = Encoder::voip_mono().unwrap();
        let mut dec = Decoder::mono().unwrap();
        let mut pcm = [0i16; FRAME_SAMPLES];
        let mut pkt = [0u8; MAX_PACKET];
        let mut out = [0i16; FRAME_SAMPLES];
        let mut last = 0.0;
        for f in 0..20 {
            tone(440.0, f * FRAME_SAMPLES, &mut pcm);
            let n = enc.encode(&pcm, &mut pkt).unwrap();
            assert!(n > 2);
            assert_eq!(
                dec.decode(&pkt[..n], &mut out, false).unwrap(),
                FRAME_SAMPLES
            );
            last = energy(&out);
        }
        assert!(last > 0.25 * energy(&pcm), "decoded energy {last}");
    }

    #[test]
    fn fec_reconstructs_a_lost_frame_and_conceal_fills_one() {
        let mut enc = Encoder::voip_mono().unwrap();
        enc.set_fec(true).unwrap();
        enc.set_packet_loss_pct(20).unwrap();
        enc.set_bitrate(32_000).unwrap();
        let mut dec = Decoder::mono().unwrap();
        let mut pcm = [0i16; FRAME_SAMPLES];
        let mut pkt = [0u8; MAX_PACKET];
        let mut out = [0i16; FRAME_SAMPLES];
        for f in 0..10 {
            tone(300.0, f * FRAME_SAMPLES, &mut pcm);
            let n = enc.encode(&pcm, &mut pkt).unwrap();
            dec.decode(&pkt[..n], &mut out, false).unwrap();
        }
        // Frame 10 is lost; frame 11 carries its FEC.
        tone(300.0, 10 * FRAME_SAMPLES, &mut pcm);
        let _lost = enc.encode(&pcm, &mut pkt).unwrap();
        tone(300.0, 11 * FRAME_SAMPLES, &mut pcm);
        let n = enc.encode(&pcm, &mut pkt).unwrap();
        assert_eq!(dec.decode_fec(&pkt[..n], &mut out).unwrap(), FRAME_SAMPLES);
        assert!(energy(&out) > 1.0e5, "FEC frame is silent");
        assert_eq!(
            dec.decode(&pkt[..n], &mut out, false).unwrap(),
            FRAME_SAMPLES
        );
        assert_eq!(dec.conceal(&mut out).unwrap(), FRAME_SAMPLES);
    }

    #[test]
    fn corrupt_packet_is_an_error_not_a_panic() {
        let mut dec = Decoder::mono().unwrap();
        let mut out = [0i16; FRAME_SAMPLES];
        // Code 3 packet with a frame count of 0 is invalid (RFC 6716 R5).
        assert_eq!(
            dec.decode(&[0xFB, 0x00], &mut out, false),
            Err(OpusError::InvalidPacket)
        );
        assert_eq!(
            Encoder::new(44_100, 1, Application::Voip).err(),
            Some(OpusError::BadArg)
        );
        assert_eq!(Decoder::new(48_000, 3).err(), Some(OpusError::BadArg));
    }

    #[test]
    fn settings_apply_and_lookahead_is_reported() {
        let mut enc = Encoder::voip_mono().unwrap();
        enc.set_bitrate(24_000).unwrap();
        enc.set_complexity(5).unwrap();
        enc.set_dtx(true).unwrap();
        assert!(enc.set_complexity(11).is_err());
        assert!(enc.lookahead().unwrap() > 0);
        // DTX: sustained digital silence yields tiny packets.
        let pcm = [0i16; FRAME_SAMPLES];
        let mut pkt = [0u8; MAX_PACKET];
        let mut small = 0;
        for _ in 0..50 {
            if enc.encode(&pcm, &mut pkt).unwrap() <= 2 {
                small += 1;
            }
        }
        assert!(small > 20, "DTX produced only {small} empty frames");
    }
}
