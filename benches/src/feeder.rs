//! Cheap, realistic input for engine benchmarks: per-client Opus frames encoded once,
//! then fresh RTP headers (sequence, timestamp, RFC 6464 level) and SRTP protection for
//! every packet, so the engine sees a valid, never-replayed stream without the cost of
//! an Opus encode per packet.
//!
//! Owns: client-side packet production for `benches/benches/engine.rs`. Uses the
//! engine's simulated clients (`talko_engine::sim`) for keys, SSRCs and addresses, so
//! the specs it hands out are the ones a control plane would give.
//! Must never: reuse a packet index (the engine would drop it as a replay).

use std::net::SocketAddr;

use talko_codecs::rtp::{Extension, RtpHeader};
use talko_codecs::srtp::{SrtpConfig, SrtpContext};
use talko_engine::sim::{keys_of, tone_of, ClientConfig, SimClient, LEVEL_EXT_ID, PT};
use talko_engine::{EngineError, ParticipantId, ParticipantSpec};

use crate::signal::{level_dbov, FRAME};

/// Distinct frames encoded per talker (a 1 s loop).
const LOOP_FRAMES: usize = 50;

struct Source {
    addr: SocketAddr,
    ssrc: u32,
    seq: u16,
    ts: u32,
    tx: SrtpContext,
    /// Index into `Feeder::frames`, or `None` for the shared silent frame.
    talker: Option<usize>,
    next: usize,
}

/// Packet sources for the clients of one call.
pub struct Feeder {
    sources: Vec<Source>,
    frames: Vec<Vec<(Vec<u8>, u8)>>,
    silence: Vec<u8>,
    payload: Vec<u8>,
}

impl std::fmt::Debug for Feeder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feeder")
            .field("clients", &self.sources.len())
            .finish_non_exhaustive()
    }
}

/// Why a feeder could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeederError {
    /// The simulated client, its keys or the codec could not be created.
    Setup,
}

impl std::fmt::Display for FeederError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("benchmark feeder set-up failed")
    }
}

impl std::error::Error for FeederError {}

impl From<EngineError> for FeederError {
    fn from(_: EngineError) -> Self {
        FeederError::Setup
    }
}

fn encoder() -> Result<opus::Encoder, FeederError> {
    let mut enc = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
        .map_err(|_| FeederError::Setup)?;
    enc.set_bitrate(opus::Bitrate::Bits(32_000))
        .map_err(|_| FeederError::Setup)?;
    enc.set_inband_fec(true).map_err(|_| FeederError::Setup)?;
    Ok(enc)
}

impl Feeder {
    /// `n` clients of which the first `talkers` send a tone (the rest silence); returns
    /// the feeder and the participants to add to the call.
    pub fn new(
        n: usize,
        talkers: usize,
    ) -> Result<(Feeder, Vec<(ParticipantId, ParticipantSpec)>), FeederError> {
        let mut sources = Vec::with_capacity(n);
        let mut specs = Vec::with_capacity(n);
        let mut frames = Vec::with_capacity(talkers);
        let mut out = vec![0u8; 1500];
        for i in 0..n {
            let client = SimClient::new(ClientConfig::new(i))?;
            let spec = client.spec(Some(client.addr));
            let up = keys_of(i, 0);
            let tx = SrtpContext::new(
                up.profile,
                &up.master_key,
                &up.master_salt,
                SrtpConfig {
                    max_streams: 1,
                    ..SrtpConfig::default()
                },
            )
            .map_err(|_| FeederError::Setup)?;
            let talker = if i < talkers {
                let mut enc = encoder()?;
                let w = 2.0 * std::f32::consts::PI * tone_of(i) / 48_000.0;
                let mut loop_frames = Vec::with_capacity(LOOP_FRAMES);
                for f in 0..LOOP_FRAMES {
                    let pcm: Vec<i16> = (0..FRAME)
                        .map(|k| ((w * (f * FRAME + k) as f32).sin() * 6_000.0) as i16)
                        .collect();
                    let len = enc.encode(&pcm, &mut out).map_err(|_| FeederError::Setup)?;
                    let bytes = out.get(..len).ok_or(FeederError::Setup)?.to_vec();
                    loop_frames.push((bytes, level_dbov(&pcm)));
                }
                frames.push(loop_frames);
                Some(frames.len() - 1)
            } else {
                None
            };
            sources.push(Source {
                addr: client.addr,
                ssrc: spec.ssrc_in,
                seq: (i as u16).wrapping_mul(7919),
                ts: (i as u32).wrapping_mul(104_729),
                tx,
                talker,
                next: 0,
            });
            specs.push((ParticipantId(i as u64), spec));
        }
        let mut enc = encoder()?;
        let mut silence = Vec::new();
        for _ in 0..5 {
            let len = enc
                .encode(&[0i16; FRAME], &mut out)
                .map_err(|_| FeederError::Setup)?;
            silence = out.get(..len).ok_or(FeederError::Setup)?.to_vec();
        }
        Ok((
            Feeder {
                sources,
                frames,
                silence,
                payload: vec![0u8; 1500],
            },
            specs,
        ))
    }

    /// Number of clients.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether there are no clients.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Writes client `i`'s next 20 ms packet (SRTP-protected) into `out`; returns its
    /// source address and length.
    pub fn packet(&mut self, i: usize, out: &mut [u8]) -> Option<(SocketAddr, usize)> {
        let s = self.sources.get_mut(i)?;
        let (payload, level, voice) = match s.talker.and_then(|t| self.frames.get(t)) {
            Some(frames) => {
                let (bytes, level) = frames.get(s.next % frames.len().max(1))?;
                (bytes.as_slice(), *level, true)
            }
            None => (self.silence.as_slice(), 127, false),
        };
        s.next += 1;
        self.payload.clear();
        self.payload.extend_from_slice(payload);
        let level_byte = [(u8::from(voice) << 7) | (level & 0x7F)];
        let ext = [Extension {
            id: LEVEL_EXT_ID,
            data: &level_byte,
        }];
        let header = RtpHeader {
            payload_type: PT,
            sequence_number: s.seq,
            timestamp: s.ts,
            ssrc: s.ssrc,
            extensions: &ext,
            ..RtpHeader::default()
        };
        let len = header.write(&self.payload, out).ok()?;
        let len = s.tx.protect_rtp(out, len).ok()?;
        s.seq = s.seq.wrapping_add(1);
        s.ts = s.ts.wrapping_add(FRAME as u32);
        Some((s.addr, len))
    }
}
