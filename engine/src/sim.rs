//! Simulation support: a virtual network, simulated clients and a tone detector.
//!
//! Hidden from the docs; used by the engine's deterministic tests, by `loadgen` and by
//! the benchmarks. This module owns:
//! - [`SimClient`]: a real client's media logic — Opus-encodes a tone (or silence),
//!   writes RTP with an RFC 6464 level, SRTP-protects, and on the way back unprotects,
//!   buffers (with the engine's own [`JitterBuffer`]), decodes with FEC/PLC and measures
//!   what it hears with [`tone_amplitude`] (Goertzel). It is transport-agnostic: it reads
//!   and writes byte buffers, so the same client runs over the virtual network or UDP.
//! - [`SimNet`]: an in-process network on a virtual clock with loss, jitter (hence
//!   reordering) and duplication, driven by a seeded generator, on preallocated buffers.
//! - [`Harness`]: an engine, a network and clients stepped together in virtual time.
//!
//! After construction, none of it allocates (the zero-allocation test runs through it),
//! reads the clock or touches a socket.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use talko_codecs::opus::codec::{Decoder, Encoder, FRAME_SAMPLES, MAX_PACKET};
use talko_codecs::rtp::{Extension, RtpHeader, RtpPacket};
use talko_codecs::srtp::{SrtpConfig, SrtpContext, SrtpProfile};

use crate::config::{JitterConfig, ParticipantSpec, SrtpKeys};
use crate::events::Event;
use crate::jitter::{JitterBuffer, Playout};
use crate::level::dbov;
use crate::{CallId, Command, Engine, EngineConfig, EngineError, ParticipantId};

/// Largest datagram the simulation carries.
pub const MTU: usize = 1_500;
/// Room per datagram in the network: above [`MTU`], so oversized datagrams reach the
/// engine intact.
pub const NET_BUF: usize = 2_048;
/// The Opus payload type simulated clients use.
pub const PT: u8 = 111;
/// The RFC 6464 extension id simulated clients use.
pub const LEVEL_EXT_ID: u8 = 1;

/// A small deterministic generator (xorshift64*).
#[derive(Debug, Clone, Copy)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.next_u64() as u8;
        }
    }
}

/// The amplitude of the `hz` component of `pcm` at 48 kHz (Goertzel): a sine of
/// amplitude A gives about A.
pub fn tone_amplitude(pcm: &[i16], hz: f32) -> f32 {
    let n = pcm.len() as f32;
    if n == 0.0 {
        return 0.0;
    }
    let w = 2.0 * core::f32::consts::PI * hz / 48_000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in pcm {
        let s = f32::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / n
}

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
        if self.cfg.dtx && !self.talking && self.stats.sent >= 5 && self.sample % (20 * 960) != 0 {
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

/// Network conditions of a [`SimNet`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetConfig {
    /// One-way delay every packet gets.
    pub delay: Duration,
    /// Extra delay uniformly drawn from [0, jitter] per packet (reorders packets).
    pub jitter: Duration,
    /// Probability a packet is lost.
    pub loss: f64,
    /// Probability a packet is delivered twice.
    pub duplicate: f64,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    at: Instant,
    from: SocketAddr,
    to: SocketAddr,
    len: usize,
    buf: usize,
}

/// An in-process network on a virtual clock (see the module docs).
pub struct SimNet {
    /// Conditions for packets towards the engine.
    pub up: NetConfig,
    /// Conditions for packets from the engine.
    pub down: NetConfig,
    /// The engine's address (decides which conditions apply).
    pub server: SocketAddr,
    rng: Rng,
    bufs: Vec<[u8; NET_BUF]>,
    free: Vec<usize>,
    flight: Vec<InFlight>,
    /// Packets dropped because every buffer was in flight.
    pub overflow: u64,
    /// Packets the network lost on purpose.
    pub lost: u64,
}

impl std::fmt::Debug for SimNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNet")
            .field("in_flight", &self.flight.len())
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

impl SimNet {
    /// A network with room for `capacity` packets in flight.
    pub fn new(server: SocketAddr, seed: u64, capacity: usize) -> SimNet {
        SimNet {
            up: NetConfig::default(),
            down: NetConfig::default(),
            server,
            rng: Rng::new(seed),
            bufs: vec![[0u8; NET_BUF]; capacity],
            free: (0..capacity).rev().collect(),
            flight: Vec::with_capacity(capacity),
            overflow: 0,
            lost: 0,
        }
    }

    /// Sends `data` from `from` to `to` at `now`.
    pub fn send(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let cfg = if to == self.server {
            self.up
        } else {
            self.down
        };
        if self.rng.unit() < cfg.loss {
            self.lost += 1;
            return;
        }
        let copies = if self.rng.unit() < cfg.duplicate {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = cfg.jitter.mul_f64(self.rng.unit());
            let Some(buf) = self.free.pop() else {
                self.overflow += 1;
                return;
            };
            let len = data.len().min(NET_BUF);
            if let (Some(dst), Some(src)) = (
                self.bufs.get_mut(buf).and_then(|b| b.get_mut(..len)),
                data.get(..len),
            ) {
                dst.copy_from_slice(src);
            }
            self.flight.push(InFlight {
                at: now + cfg.delay + jitter,
                from,
                to,
                len,
                buf,
            });
        }
    }

    /// The earliest delivery time of anything in flight.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.flight.iter().map(|f| f.at).min()
    }

    /// Delivers the earliest packet due at `now` into `out`: `(from, to, len)`.
    pub fn recv(
        &mut self,
        now: Instant,
        out: &mut [u8],
    ) -> Option<(SocketAddr, SocketAddr, usize)> {
        let (i, _) = self
            .flight
            .iter()
            .enumerate()
            .filter(|(_, f)| f.at <= now)
            .min_by_key(|(_, f)| f.at)?;
        let f = self.flight.swap_remove(i);
        let src = self.bufs.get(f.buf)?.get(..f.len)?;
        let len = f.len.min(out.len());
        out.get_mut(..len)?.copy_from_slice(src.get(..len)?);
        self.free.push(f.buf);
        Some((f.from, f.to, len))
    }
}

/// An engine, a network and clients in one virtual-time loop.
pub struct Harness {
    /// The engine under test.
    pub engine: Engine,
    /// The network.
    pub net: SimNet,
    /// The clients, by index.
    pub clients: Vec<SimClient>,
    /// Which clients are in the call (and send/receive).
    pub joined: Vec<bool>,
    /// The virtual now.
    pub now: Instant,
    start: Instant,
    /// The engine's address.
    pub server: SocketAddr,
    /// Events seen (capacity reserved up front; drain it in long runs).
    pub events: Vec<Event>,
    /// The call the clients join.
    pub call: CallId,
    next_send: Vec<Instant>,
    next_play: Vec<Instant>,
    next_report: Vec<Instant>,
    buf: Box<[u8; NET_BUF]>,
    /// Called with (client index, frame) for every frame a client plays.
    frames: u64,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("clients", &self.clients.len())
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// `n` clients (not yet joined) and an engine with `config`, on a fixed virtual
    /// start time; the call exists.
    pub fn new(config: EngineConfig, n: usize, seed: u64) -> Result<Harness, EngineError> {
        Harness::with_clients(config, (0..n).map(ClientConfig::new), seed)
    }

    /// Like [`Harness::new`] with explicit client configurations.
    pub fn with_clients(
        config: EngineConfig,
        clients: impl IntoIterator<Item = ClientConfig>,
        seed: u64,
    ) -> Result<Harness, EngineError> {
        let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)), 3478);
        let clients: Vec<SimClient> = clients
            .into_iter()
            .map(SimClient::new)
            .collect::<Result<_, _>>()?;
        let n = clients.len();
        // A fixed start so runs are reproducible in every respect but `Instant`'s origin.
        #[allow(clippy::disallowed_methods)] // the one clock read: the virtual origin
        let start = Instant::now();
        let mut engine = Engine::new(config);
        let call = CallId(1);
        engine.handle_command(start, Command::CreateCall { call })?;
        let mut next_send = Vec::with_capacity(n);
        let mut next_play = Vec::with_capacity(n);
        let mut next_report = Vec::with_capacity(n);
        for i in 0..n {
            // Clients are not aligned with the engine's tick or with each other.
            next_send.push(start + Duration::from_micros(1_700 * i as u64 % 20_000));
            next_play.push(start + Duration::from_micros(3_100 * i as u64 % 20_000 + 500));
            next_report.push(start + Duration::from_millis(2_500 + 97 * i as u64));
        }
        Ok(Harness {
            engine,
            net: SimNet::new(server, seed, 8 * n + 4_096),
            clients,
            joined: vec![false; n],
            now: start,
            start,
            server,
            events: Vec::with_capacity(1 << 16),
            call,
            next_send,
            next_play,
            next_report,
            buf: Box::new([0; NET_BUF]),
            frames: 0,
        })
    }

    /// Microseconds since the start.
    pub fn now_us(&self) -> i64 {
        i64::try_from(self.now.saturating_duration_since(self.start).as_micros()).unwrap_or(0)
    }

    /// Adds client `i` to the call.
    pub fn join(&mut self, i: usize) -> Result<(), EngineError> {
        let spec = self
            .clients
            .get(i)
            .map(|c| c.spec(None))
            .ok_or(EngineError::UnknownParticipant)?;
        self.join_spec(i, spec)
    }

    /// Adds client `i` to the call with an explicit spec.
    pub fn join_spec(&mut self, i: usize, spec: ParticipantSpec) -> Result<(), EngineError> {
        self.engine.handle_command(
            self.now,
            Command::AddParticipant {
                call: self.call,
                participant: ParticipantId(i as u64),
                spec,
            },
        )?;
        if let Some(j) = self.joined.get_mut(i) {
            *j = true;
        }
        Ok(())
    }

    /// Removes client `i` from the call.
    pub fn leave(&mut self, i: usize) -> Result<(), EngineError> {
        self.engine.handle_command(
            self.now,
            Command::RemoveParticipant {
                call: self.call,
                participant: ParticipantId(i as u64),
            },
        )?;
        if let Some(j) = self.joined.get_mut(i) {
            *j = false;
        }
        Ok(())
    }

    /// Sends a raw datagram to the engine from `from` (for bad-input tests).
    pub fn inject(&mut self, from: SocketAddr, data: &[u8]) {
        let server = self.server;
        self.net.send(self.now, from, server, data);
    }

    fn drain_engine(&mut self) {
        while let Some(t) = self.engine.poll_transmit(&mut self.buf[..]) {
            if let Some(b) = self.buf.get(..t.len) {
                self.net.send(self.now, self.server, t.to, b);
            }
        }
        while let Some(e) = self.engine.poll_event() {
            if self.events.len() < self.events.capacity() {
                self.events.push(e);
            }
        }
    }

    /// Advances virtual time by `d` in 1 ms steps; `on_frame(i, pcm)` sees every frame
    /// client `i` plays.
    pub fn run(&mut self, d: Duration, mut on_frame: impl FnMut(usize, &[i16; FRAME_SAMPLES])) {
        let end = self.now + d;
        let step = Duration::from_millis(1);
        while self.now < end {
            self.now += step;
            let now = self.now;
            let now_us = self.now_us();
            // Clients send.
            for i in 0..self.clients.len() {
                let due = self.next_send.get(i).is_some_and(|t| *t <= now);
                if !due {
                    continue;
                }
                if let Some(t) = self.next_send.get_mut(i) {
                    *t += Duration::from_millis(20);
                }
                if !self.joined.get(i).copied().unwrap_or(false) {
                    continue;
                }
                let Some(c) = self.clients.get_mut(i) else {
                    continue;
                };
                if let Some(len) = c.next_packet(&mut self.buf[..]) {
                    let from = c.addr;
                    if let Some(b) = self.buf.get(..len) {
                        self.net.send(now, from, self.server, b);
                    }
                }
                // Every 5 s, a receiver report.
                if self.next_report.get(i).is_some_and(|t| *t <= now) {
                    if let Some(t) = self.next_report.get_mut(i) {
                        *t += Duration::from_secs(5);
                    }
                    if let Some(len) = c.report(now_us, &mut self.buf[..]) {
                        let from = c.addr;
                        if let Some(b) = self.buf.get(..len) {
                            self.net.send(now, from, self.server, b);
                        }
                    }
                }
            }
            // The network delivers.
            while let Some((from, to, len)) = self.net.recv(now, &mut self.buf[..]) {
                if to == self.server {
                    if let Some(b) = self.buf.get_mut(..len) {
                        self.engine.handle_datagram(now, from, b);
                    }
                    self.drain_engine();
                } else if let Some(c) = self.clients.iter_mut().find(|c| c.addr == to) {
                    if let Some(b) = self.buf.get_mut(..len) {
                        c.receive(now_us, b);
                    }
                }
            }
            // The engine ticks.
            if self.engine.poll_timeout().is_some_and(|t| t <= now) {
                self.engine.handle_timeout(now);
                self.drain_engine();
            }
            // Clients play.
            for i in 0..self.clients.len() {
                let due = self.next_play.get(i).is_some_and(|t| *t <= now);
                if !due {
                    continue;
                }
                if let Some(t) = self.next_play.get_mut(i) {
                    *t += Duration::from_millis(20);
                }
                if let Some(c) = self.clients.get_mut(i) {
                    if let Some(pcm) = c.play(now_us) {
                        self.frames += 1;
                        on_frame(i, pcm);
                    }
                }
            }
        }
    }
}
