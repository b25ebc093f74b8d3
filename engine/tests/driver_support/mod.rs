//! A small real-UDP client for the driver tests: sends a steady tone as SRTP-protected
//! Opus at real-time pace from its own loopback socket, and decodes what it receives.
//!
//! Owns nothing of the engine; it only speaks the wire protocol a real client speaks.

#![allow(dead_code)]
// Each test file uses a different part of it.
// These tests run real sockets in real time, like the driver itself.
#![allow(clippy::disallowed_methods)]

use std::f32::consts::PI;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use talko_codecs::opus::codec::{Decoder, Encoder};
use talko_codecs::rtp::{RtpHeader, RtpPacket};
use talko_codecs::srtp::{SrtpConfig, SrtpContext, SrtpProfile};
use talko_engine::{ParticipantSpec, SrtpKeys};

pub const FRAME: usize = 960;
pub const PT: u8 = 111;
const PROFILE: SrtpProfile = SrtpProfile::AesCm128HmacSha1_80;

/// Amplitude (fraction of full scale) of `freq` in `frame` (Goertzel).
pub fn tone_amplitude(frame: &[i16], freq: f32) -> f32 {
    if frame.is_empty() {
        return 0.0;
    }
    let coeff = 2.0 * (2.0 * PI * freq / 48_000.0).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in frame {
        let s = f32::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    2.0 * (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0).sqrt() / frame.len() as f32
}

fn key(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 7))
        .collect()
}

/// One simulated client.
pub struct Client {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    pub ssrc_in: u32,
    pub ssrc_out: u32,
    pub tone_hz: f32,
    tx: SrtpContext,
    rx: SrtpContext,
    keys_up: SrtpKeys,
    keys_down: SrtpKeys,
    enc: Encoder,
    dec: Decoder,
    seq: u16,
    ts: u32,
    phase: f32,
    /// Decoded frames received.
    pub frames: Vec<Vec<i16>>,
    /// When each decoded frame arrived.
    pub arrivals: Vec<Instant>,
    /// Datagrams that failed to unprotect.
    pub auth_failures: u64,
    /// RTCP datagrams received.
    pub rtcp: u64,
}

impl Client {
    /// A client with its own loopback socket, keys derived from `id`, sending `tone_hz`
    /// (0 = silence) to `server`.
    pub fn new(id: u8, tone_hz: f32, server: SocketAddr) -> io::Result<Client> {
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        sock.set_nonblocking(true)?;
        let keys = |seed: u8| SrtpKeys {
            profile: PROFILE,
            master_key: key(seed, PROFILE.master_key_len()),
            master_salt: key(seed ^ 0x5A, PROFILE.master_salt_len()),
        };
        let keys_up = keys(id);
        let keys_down = keys(id.wrapping_add(100));
        let ctx = |k: &SrtpKeys| {
            SrtpContext::new(
                k.profile,
                &k.master_key,
                &k.master_salt,
                SrtpConfig::default(),
            )
            .map_err(|e| io::Error::other(e.to_string()))
        };
        Ok(Client {
            server,
            ssrc_in: 0x1000 + u32::from(id),
            ssrc_out: 0x9000 + u32::from(id),
            tone_hz,
            tx: ctx(&keys_up)?,
            rx: ctx(&keys_down)?,
            keys_up,
            keys_down,
            enc: Encoder::voip_mono().map_err(|e| io::Error::other(e.to_string()))?,
            dec: Decoder::mono().map_err(|e| io::Error::other(e.to_string()))?,
            seq: 65_500 - u16::from(id) * 10,
            ts: 0xFFFF_0000,
            phase: 0.0,
            frames: Vec::new(),
            arrivals: Vec::new(),
            auth_failures: 0,
            rtcp: 0,
            sock,
        })
    }

    /// What the engine needs to know about this client.
    pub fn spec(&self) -> io::Result<ParticipantSpec> {
        Ok(ParticipantSpec {
            ssrc_in: self.ssrc_in,
            ssrc_out: self.ssrc_out,
            srtp_in: self.keys_up.clone(),
            srtp_out: self.keys_down.clone(),
            expected_addr: Some(self.sock.local_addr()?),
            payload_type: PT,
            audio_level_ext_id: None,
            ice: None,
        })
    }

    /// Encodes, protects and sends the next 20 ms of its tone.
    pub fn send_frame(&mut self) -> io::Result<()> {
        let mut pcm = [0i16; FRAME];
        for s in pcm.iter_mut() {
            self.phase = (self.phase + 2.0 * PI * self.tone_hz / 48_000.0) % (2.0 * PI);
            if self.tone_hz > 0.0 {
                *s = (self.phase.sin() * 0.3 * 32767.0) as i16;
            }
        }
        let mut payload = [0u8; 1275];
        let n = self
            .enc
            .encode(&pcm, &mut payload)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let mut buf = [0u8; 1500];
        let header = RtpHeader {
            payload_type: PT,
            sequence_number: self.seq,
            timestamp: self.ts,
            ssrc: self.ssrc_in,
            ..RtpHeader::default()
        };
        let len = header
            .write(payload.get(..n).unwrap_or(&[]), &mut buf)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let total = self
            .tx
            .protect_rtp(&mut buf, len)
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(FRAME as u32);
        self.sock
            .send_to(buf.get(..total).unwrap_or(&[]), self.server)?;
        Ok(())
    }

    /// Reads everything waiting; decodes media into `frames`.
    pub fn receive(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 2048];
        loop {
            let n = match self.sock.recv_from(&mut buf) {
                Ok((n, _)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            };
            let Some(datagram) = buf.get_mut(..n) else {
                continue;
            };
            if datagram.get(1).is_some_and(|b| (200..=204).contains(b)) {
                self.rtcp += 1;
                continue;
            }
            let Ok(plain) = self.rx.unprotect_rtp(datagram) else {
                self.auth_failures += 1;
                continue;
            };
            let Some(Ok(pkt)) = datagram.get(..plain).map(RtpPacket::try_from) else {
                continue;
            };
            let mut pcm = vec![0i16; FRAME * 6];
            if let Ok(samples) = self.dec.decode(pkt.payload(), &mut pcm, false) {
                pcm.truncate(samples);
                self.frames.push(pcm);
                self.arrivals.push(Instant::now());
            }
        }
    }

    /// Frames (after the first `skip`) in which `freq` is present.
    pub fn frames_with(&self, freq: f32, skip: usize) -> usize {
        self.frames
            .iter()
            .skip(skip)
            .filter(|f| tone_amplitude(f, freq) > 0.05)
            .count()
    }
}

/// Runs `clients` at real-time pace for `duration`: each sends a frame every 20 ms and
/// reads what arrived.
pub fn run_for(clients: &mut [&mut Client], duration: Duration) -> io::Result<()> {
    let start = Instant::now();
    let mut next = start;
    while start.elapsed() < duration {
        for c in clients.iter_mut() {
            c.send_frame()?;
        }
        next += Duration::from_millis(20);
        loop {
            for c in clients.iter_mut() {
                c.receive()?;
            }
            let now = Instant::now();
            if now >= next {
                break;
            }
            std::thread::sleep((next - now).min(Duration::from_millis(2)));
        }
    }
    for c in clients.iter_mut() {
        c.receive()?;
    }
    Ok(())
}
