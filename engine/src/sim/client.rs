//! [`SimClient`]: one simulated client's media logic, transport-agnostic.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use talko_codecs::opus::codec::{Decoder, Encoder, FRAME_SAMPLES, MAX_PACKET};
use talko_codecs::rtp::{Extension, RtpHeader, RtpPacket};
use talko_codecs::srtp::{SrtpConfig, SrtpContext, SrtpProfile};

use super::{Rng, LEVEL_EXT_ID, PT};
use crate::config::{JitterConfig, ParticipantSpec, SrtpKeys};
use crate::jitter::{JitterBuffer, Playout};
use crate::level::dbov;
use crate::EngineError;

/// The tone of simulated client `i`: 350 Hz + 150 Hz steps, multiples of 50 Hz so that
/// a 20 ms frame holds whole cycles and the tones do not leak into each other.
pub fn tone_of(i: usize) -> f32 {
    350.0 + 150.0 * i as f32
}

/// Deterministic SRTP keys for client `i`, direction `dir` (0 up, 1 down).
pub fn keys_of(i: usize, dir: u8) -> SrtpKeys {
    let mut key = vec![0u8; 16];
    let mut salt = vec![0u8; 14];
    let mut rng = Rng::new(((i as u64) << 8) | u64::from(dir) | 0x5EED_0000);
    rng.fill(&mut key);
    rng.fill(&mut salt);
    SrtpKeys {
        profile: SrtpProfile::AesCm128HmacSha1_80,
        master_key: key,
        master_salt: salt,
    }
}

/// How a simulated client behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientConfig {
    /// Index (chooses tone, keys, SSRCs and address).
    pub index: usize,
    /// First sequence number sent.
    pub seq_start: u16,
    /// First RTP timestamp sent.
    pub ts_start: u32,
    /// Tone amplitude when talking.
    pub amplitude: f32,
    /// Send the RFC 6464 audio level.
    pub level_ext: bool,
    /// Opus in-band FEC in what the client sends.
    pub fec: bool,
    /// Discontinuous transmission: send nothing while silent (the client's own VAD
    /// decides, as browsers do; libopus's DTX would also suppress a steady test tone).
    pub dtx: bool,
}

impl ClientConfig {
    /// Defaults for client `index`.
    pub fn new(index: usize) -> ClientConfig {
        ClientConfig {
            index,
            seq_start: (index as u16).wrapping_mul(7919),
            ts_start: (index as u32).wrapping_mul(104_729),
            amplitude: 6_000.0,
            level_ext: true,
            fec: true,
            dtx: false,
        }
    }
}

/// What a client counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Packets sent.
    pub sent: u64,
    /// Packets received and authenticated.
    pub received: u64,
    /// Packets that failed SRTP.
    pub rejected: u64,
    /// Frames decoded from packets.
    pub decoded: u64,
    /// Frames rebuilt with FEC.
    pub fec: u64,
    /// Frames concealed.
    pub plc: u64,
    /// RTCP packets received.
    pub rtcp: u64,
}

/// A simulated client (see the module docs).
pub struct SimClient {
    /// Its configuration.
    pub cfg: ClientConfig,
    /// The SSRC it sends with.
    pub ssrc: u32,
    /// The SSRC the engine sends to it with.
    pub engine_ssrc: u32,
    /// Its address on the network.
    pub addr: SocketAddr,
    /// Whether it sends its tone (else silence).
    pub talking: bool,
    enc: Encoder,
    dec: Decoder,
    tx: SrtpContext,
    rx: SrtpContext,
    seq: u16,
    ts: u32,
    sample: u64,
    jb: JitterBuffer,
    pcm: Box<[i16; FRAME_SAMPLES]>,
    out_pcm: Box<[i16; FRAME_SAMPLES]>,
    payload: Box<[u8; MAX_PACKET]>,
    warm: bool,
    /// Middle NTP bits of the last SR from the engine and when it arrived (µs).
    last_sr: Option<(u32, i64)>,
    /// Counters.
    pub stats: ClientStats,
}

impl std::fmt::Debug for SimClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimClient")
            .field("index", &self.cfg.index)
            .field("ssrc", &self.ssrc)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// The default address of client `i` (10.0.x.y:40000+i).
pub fn addr_of(i: usize) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8)),
        40_000u16.wrapping_add(i as u16),
    )
}

impl SimClient {
    /// A client per `cfg`, with the derived SSRCs, keys and address.
    pub fn new(cfg: ClientConfig) -> Result<SimClient, EngineError> {
        let i = cfg.index;
        let up = keys_of(i, 0);
        let down = keys_of(i, 1);
        let srtp = SrtpConfig {
            max_streams: 2,
            replay_window: 128,
            strict_ssrc: false,
        };
        let mut enc = Encoder::voip_mono()?;
        enc.set_bitrate(32_000)?;
        enc.set_fec(cfg.fec)?;
        enc.set_packet_loss_pct(if cfg.fec { 10 } else { 0 })?;
        enc.set_complexity(3)?;
        Ok(SimClient {
            cfg,
            ssrc: 0x1000_0000 + i as u32,
            engine_ssrc: 0x2000_0000 + i as u32,
            addr: addr_of(i),
            talking: true,
            enc,
            dec: Decoder::mono()?,
            tx: SrtpContext::new(up.profile, &up.master_key, &up.master_salt, srtp)?,
            rx: SrtpContext::new(down.profile, &down.master_key, &down.master_salt, srtp)?,
            seq: cfg.seq_start,
            ts: cfg.ts_start,
            sample: 0,
            jb: JitterBuffer::new(&JitterConfig {
                min_target: Duration::from_millis(40),
                ..JitterConfig::default()
            }),
            pcm: Box::new([0; FRAME_SAMPLES]),
            out_pcm: Box::new([0; FRAME_SAMPLES]),
            payload: Box::new([0; MAX_PACKET]),
            warm: false,
            last_sr: None,
            stats: ClientStats::default(),
        })
    }

    /// The participant spec the control plane would give the engine for this client.
    pub fn spec(&self, expected_addr: Option<SocketAddr>) -> ParticipantSpec {
        ParticipantSpec {
            ssrc_in: self.ssrc,
            ssrc_out: self.engine_ssrc,
            srtp_in: keys_of(self.cfg.index, 0),
            srtp_out: keys_of(self.cfg.index, 1),
            expected_addr,
            payload_type: PT,
            audio_level_ext_id: self.cfg.level_ext.then_some(LEVEL_EXT_ID),
            ice: None,
        }
    }

    /// Produces the next 20 ms packet into `out` (SRTP-protected); `None` when DTX
    /// suppresses it or encoding fails.
    pub fn next_packet(&mut self, out: &mut [u8]) -> Option<usize> {
        let w = 2.0 * core::f64::consts::PI * f64::from(tone_of(self.cfg.index)) / 48_000.0;
        for (k, s) in self.pcm.iter_mut().enumerate() {
            *s = if self.talking {
                let t = (self.sample + k as u64) as f64;
                (f64::from(self.cfg.amplitude) * (w * t).sin()) as i16
            } else {
                0
            };
        }
        self.sample += FRAME_SAMPLES as u64;
        let ts = self.ts;
        self.ts = self.ts.wrapping_add(FRAME_SAMPLES as u32);
        if self.cfg.dtx
            && !self.talking
            && self.stats.sent >= 5
            && !self.sample.is_multiple_of(20 * 960)
        {
            // A gap in timestamps with contiguous sequence numbers: DTX on the wire,
            // with one comfort frame every 400 ms as Opus sends.
            return None;
        }
        let n = self.enc.encode(&self.pcm[..], &mut self.payload[..]).ok()?;
        let level = dbov(&self.pcm[..]);
        let level_byte = [if self.talking { 0x80 } else { 0 } | level];
        let ext = [Extension {
            id: LEVEL_EXT_ID,
            data: &level_byte,
        }];
        let header = RtpHeader {
            marker: false,
            payload_type: PT,
            sequence_number: self.seq,
            timestamp: ts,
            ssrc: self.ssrc,
            csrcs: &[],
            extensions: if self.cfg.level_ext { &ext } else { &[] },
            padding: 0,
        };
        let len = header.write(self.payload.get(..n)?, out).ok()?;
        let len = self.tx.protect_rtp(out, len).ok()?;
        self.seq = self.seq.wrapping_add(1);
        self.stats.sent += 1;
        Some(len)
    }

    /// Receives one datagram from the engine (SRTP or SRTCP).
    pub fn receive(&mut self, now_us: i64, datagram: &mut [u8]) -> bool {
        if datagram.get(1).is_some_and(|b| (192..=223).contains(b)) {
            let Ok(len) = self.rx.unprotect_rtcp(datagram) else {
                self.stats.rejected += 1;
                return false;
            };
            self.stats.rtcp += 1;
            for p in talko_codecs::rtcp::packets(datagram.get(..len).unwrap_or_default()).flatten()
            {
                if let talko_codecs::rtcp::RtcpPacket::SenderReport(sr) = p {
                    self.last_sr = Some(((sr.ntp_timestamp() >> 16) as u32, now_us));
                }
            }
            return true;
        }
        let Ok(len) = self.rx.unprotect_rtp(datagram) else {
            self.stats.rejected += 1;
            return false;
        };
        let Some(pkt) = datagram
            .get(..len)
            .and_then(|b| RtpPacket::try_from(b).ok())
        else {
            self.stats.rejected += 1;
            return false;
        };
        if pkt.ssrc() != self.engine_ssrc {
            self.stats.rejected += 1;
            return false;
        }
        self.stats.received += 1;
        self.jb.insert(
            now_us,
            pkt.sequence_number(),
            pkt.timestamp(),
            pkt.payload(),
            None,
        );
        true
    }

    /// Writes an SRTCP receiver report about the engine's stream with the given
    /// fields (LSR and DLSR raw) into `out`; returns its length.
    pub fn write_receiver_report(
        &mut self,
        out: &mut [u8],
        lsr: u32,
        dlsr: u32,
        fraction_lost: u8,
        cumulative_lost: i32,
        jitter: u32,
    ) -> Option<usize> {
        let block = talko_codecs::rtcp::ReportBlock {
            ssrc: self.engine_ssrc,
            fraction_lost,
            cumulative_lost,
            highest_seq: 0,
            jitter,
            lsr,
            dlsr,
        };
        let room = out
            .len()
            .saturating_sub(talko_codecs::srtp::SRTCP_TRAILER_MAX);
        let len =
            talko_codecs::rtcp::write_receiver_report(out.get_mut(..room)?, self.ssrc, &[block])
                .ok()?;
        self.tx.protect_rtcp(out, len).ok()
    }

    /// Writes the receiver report a real client sends: echoing the engine's last SR
    /// (LSR, DLSR) so the engine can measure the round trip.
    pub fn report(&mut self, now_us: i64, out: &mut [u8]) -> Option<usize> {
        let (lsr, dlsr) = match self.last_sr {
            Some((mid, at)) => (
                mid,
                ((now_us - at).max(0) as u64 * 65_536 / 1_000_000) as u32,
            ),
            None => (0, 0),
        };
        self.write_receiver_report(out, lsr, dlsr, 0, 0, 0)
    }

    /// Plays one 20 ms frame of what was received; `None` when there was nothing.
    pub fn play(&mut self, now_us: i64) -> Option<&[i16; FRAME_SAMPLES]> {
        let out: &mut [i16] = &mut self.out_pcm[..];
        let ok = match self.jb.pop(now_us) {
            Playout::Frame { payload, .. } => {
                let ok = matches!(self.dec.decode(payload, out, false), Ok(FRAME_SAMPLES));
                self.stats.decoded += u64::from(ok);
                ok
            }
            Playout::Lost { fec: Some(next) } if self.warm => {
                let ok = matches!(self.dec.decode_fec(next, out), Ok(FRAME_SAMPLES));
                self.stats.fec += u64::from(ok);
                ok
            }
            Playout::Lost { .. } if self.warm => {
                let ok = matches!(self.dec.conceal(out), Ok(FRAME_SAMPLES));
                self.stats.plc += u64::from(ok);
                ok
            }
            _ => false,
        };
        if ok {
            self.warm = true;
            Some(&self.out_pcm)
        } else {
            None
        }
    }
}
