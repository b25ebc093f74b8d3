//! Simulated participants: many per thread, several per UDP socket, each with its own
//! SSRCs and SRTP contexts, sending Opus at real-time pace and checking what it hears.
//!
//! Owns: the client side of the media path (RTP + RFC 6464 level + SRTP protect; SRTP
//! unprotect, loss accounting, Opus decode and tag detection), pacing, and the
//! server-added latency measurement.
//!
//! Latency method: 200 ms into every voiced burst, a talker's tag switches to its second
//! tone; the talker stores the send instant of that first switched packet in a shared
//! atomic. A checked listener decodes every mix it receives; the first frame carrying the
//! second tone (after >= 100 ms without it) gives one sample: receive instant minus the
//! stored send instant. The talker is already selected as a speaker by then, so this is
//! one packet's way through the engine (jitter buffer, wait for the tick, mixing,
//! encoding) plus a few tens of microseconds of loopback and client scheduling. The
//! switch leads its packet's frame by both encoders' look-ahead
//! ([`crate::signal::SWITCH_LEAD_SAMPLES`]), so codec delay does not push the switch
//! into the next decoded frame. The same is done with the burst's first packet for the talk-start delay,
//! which adds the engine's talk detection and speaker selection.
//!
//! Must never: let the client fall behind silently (late sends are counted), or count
//! anything outside the measurement window.

mod audio;
mod receive;

pub use audio::{EncodeError, Mark, Onsets, SharedAudio};

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use talko_codecs::rtp::{Extension, RtpHeader};
use talko_codecs::srtp::{SrtpConfig, SrtpContext, SrtpProfile};
use talko_engine::driver::Histogram;

use crate::signal::{Rng, FRAME};
use receive::receive_one;

/// Opus payload type the clients use.
pub const PAYLOAD_TYPE: u8 = 111;
/// RFC 6464 extension id the clients use.
pub const AUDIO_LEVEL_EXT_ID: u8 = 1;
/// The frame period.
pub const FRAME_PERIOD: Duration = Duration::from_millis(20);
/// A tag must be absent this many frames before its return counts as a burst onset.
const ONSET_SILENCE_FRAMES: u32 = 10;
/// Latency samples above this are mismatches (a tag lost mid-burst), not latency.
const MAX_LATENCY: Duration = Duration::from_millis(500);
/// A send later than this behind its schedule counts as late.
const LATE_SEND: Duration = Duration::from_millis(10);

/// The SRTP keys of one direction.
#[derive(Clone, Debug)]
pub struct Keys {
    /// Suite.
    pub profile: SrtpProfile,
    /// Master key.
    pub key: Vec<u8>,
    /// Master salt.
    pub salt: Vec<u8>,
}

/// One simulated participant, as planned by the caller.
#[derive(Clone, Debug)]
pub struct ParticipantPlan {
    /// SSRC the participant sends with.
    pub ssrc_in: u32,
    /// SSRC the engine sends to it with.
    pub ssrc_out: u32,
    /// Keys for what it sends.
    pub keys_up: Keys,
    /// Keys for what it receives.
    pub keys_down: Keys,
    /// The engine shard's address.
    pub engine_addr: SocketAddr,
    /// Index of its socket in the thread's socket list.
    pub socket: usize,
    /// `Some((tag index, global talker index))` for a talker.
    pub talker: Option<(usize, usize)>,
    /// The talkers of its room: (tag index, global talker index).
    pub room_talkers: Vec<(usize, usize)>,
    /// Decode and check what it hears.
    pub checked: bool,
    /// Offset into the talker audio (so rooms do not burst in lockstep).
    pub frame_offset: usize,
    /// First sequence number and timestamp.
    pub seq0: u16,
    /// First timestamp.
    pub ts0: u32,
}

/// How a client thread runs.
#[derive(Clone, Debug)]
pub struct RunPlan {
    /// When sending starts.
    pub start: Instant,
    /// When measuring starts.
    pub measure_from: Instant,
    /// When sending stops (receiving goes on for a short drain).
    pub end: Instant,
    /// Silent participants send every this many frames.
    pub listener_every_frames: u64,
    /// Send the RFC 6464 extension.
    pub audio_level: bool,
    /// Seeds the order of the send slots (see [`run_client`]).
    pub seed: u64,
}

/// What one client thread measured (inside the measurement window).
#[derive(Clone, Debug, Default)]
pub struct ClientResult {
    /// Packets sent.
    pub sent: u64,
    /// Packets sent over the whole run, warm-up included (for the uplink's exact
    /// accounting against what the engine received).
    pub sent_total: u64,
    /// Sends that failed (full socket buffer or error).
    pub send_failures: u64,
    /// Sends more than 10 ms behind schedule (the load generator was overloaded).
    pub late_sends: u64,
    /// Largest delay behind schedule.
    pub max_send_delay: Duration,
    /// SRTP packets received and authenticated.
    pub received: u64,
    /// RTCP packets received.
    pub rtcp_received: u64,
    /// Packets that failed SRTP unprotect.
    pub auth_failures: u64,
    /// Packets for no known participant, or not RTP.
    pub unknown: u64,
    /// Packets expected from sequence numbers.
    pub expected: u64,
    /// Mix packets that did not decode.
    pub decode_errors: u64,
    /// Mix frames decoded and checked.
    pub checked_frames: u64,
    /// (checked listener, talker) pairs.
    pub pairs: u64,
    /// Pairs where the listener heard the talker at least once.
    pub pairs_heard: u64,
    /// Frames in which a talker heard its own tag.
    pub self_heard_frames: u64,
    /// Frames in which checked listeners heard a talker's tag, summed over pairs.
    pub tag_frames_heard: u64,
    /// Voiced frames sent by talkers (the most a listener could hear, per talker).
    pub voiced_frames_sent: u64,
    /// Server-added latency samples (tag switch sent → first mix frame with the second
    /// tag received), nanoseconds.
    pub latency: Histogram,
    /// Latency samples rejected as mismatches (> 500 ms).
    pub latency_rejected: u64,
    /// Talk-start delay samples (burst onset sent → first mix frame with the talker's
    /// tag received; includes the engine's talk detection), nanoseconds.
    pub onset_delay: Histogram,
    /// Onset samples rejected as mismatches (> 500 ms).
    pub onset_rejected: u64,
}

impl ClientResult {
    /// Adds another thread's result.
    pub fn merge(&mut self, o: &ClientResult) {
        self.sent += o.sent;
        self.sent_total += o.sent_total;
        self.send_failures += o.send_failures;
        self.late_sends += o.late_sends;
        self.max_send_delay = self.max_send_delay.max(o.max_send_delay);
        self.received += o.received;
        self.rtcp_received += o.rtcp_received;
        self.auth_failures += o.auth_failures;
        self.unknown += o.unknown;
        self.expected += o.expected;
        self.decode_errors += o.decode_errors;
        self.checked_frames += o.checked_frames;
        self.pairs += o.pairs;
        self.pairs_heard += o.pairs_heard;
        self.self_heard_frames += o.self_heard_frames;
        self.tag_frames_heard += o.tag_frames_heard;
        self.voiced_frames_sent += o.voiced_frames_sent;
        self.latency.merge(&o.latency);
        self.latency_rejected += o.latency_rejected;
        self.onset_delay.merge(&o.onset_delay);
        self.onset_rejected += o.onset_rejected;
    }
}

struct TagState {
    tag: usize,
    talker: usize,
    absent_run: u32,
    switch_absent_run: u32,
    heard_frames: u64,
}

struct Participant {
    plan: ParticipantPlan,
    tx: SrtpContext,
    rx: SrtpContext,
    decoder: Option<opus::Decoder>,
    tags: Vec<TagState>,
    seq: u16,
    /// Highest extended sequence number received in the window, and the first.
    highest: Option<i64>,
    first: i64,
}

fn context(keys: &Keys) -> io::Result<SrtpContext> {
    SrtpContext::new(
        keys.profile,
        &keys.key,
        &keys.salt,
        SrtpConfig {
            max_streams: 2,
            ..SrtpConfig::default()
        },
    )
    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

/// Creates a client UDP socket on loopback with large kernel buffers (a mix burst for
/// every participant of the socket arrives at once each tick).
pub fn client_socket() -> io::Result<StdUdpSocket> {
    let s = StdUdpSocket::bind("127.0.0.1:0")?;
    let r = socket2::SockRef::from(&s);
    r.set_recv_buffer_size(4 << 20)?;
    r.set_send_buffer_size(1 << 20)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// One client thread: runs `plans` over `sockets` until `run.end`, then drains.
pub fn run_client(
    sockets: Vec<StdUdpSocket>,
    plans: Vec<ParticipantPlan>,
    audio: Arc<SharedAudio>,
    onsets: Arc<Onsets>,
    run: RunPlan,
) -> io::Result<ClientResult> {
    let mut poll = Poll::new()?;
    let mut socks: Vec<UdpSocket> = sockets.into_iter().map(UdpSocket::from_std).collect();
    for (i, s) in socks.iter_mut().enumerate() {
        poll.registry().register(s, Token(i), Interest::READABLE)?;
    }
    let mut by_ssrc: HashMap<u32, usize> = HashMap::with_capacity(plans.len());
    let mut parts = Vec::with_capacity(plans.len());
    for (i, plan) in plans.into_iter().enumerate() {
        by_ssrc.insert(plan.ssrc_out, i);
        let decoder = if plan.checked {
            Some(
                opus::Decoder::new(48_000, opus::Channels::Mono)
                    .map_err(|e| io::Error::other(e.to_string()))?,
            )
        } else {
            None
        };
        let tags = if plan.checked {
            plan.room_talkers
                .iter()
                .map(|&(tag, talker)| TagState {
                    tag,
                    talker,
                    // Not "absent" yet: a tag already sounding when measuring starts is no onset.
                    absent_run: 0,
                    switch_absent_run: 0,
                    heard_frames: 0,
                })
                .collect()
        } else {
            Vec::new()
        };
        parts.push(Participant {
            tx: context(&plan.keys_up)?,
            rx: context(&plan.keys_down)?,
            decoder,
            tags,
            seq: plan.seq0,
            highest: None,
            first: 0,
            plan,
        });
    }

    // The participants take the evenly spaced send slots of each 20 ms round in a seeded
    // random order, so each talker's send instant is a random phase of the engine's
    // tick grid, as for real clients, and not its room's index: the latency figure then
    // samples arrival phases without a pattern the engine's call placement could line
    // up with (or against).
    let mut order: Vec<usize> = (0..parts.len()).collect();
    let mut rng = Rng::new(run.seed ^ 0x9e37_79b9_7f4a_7c15);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.range(0, i + 1));
    }
    let mut res = ClientResult::default();
    let n = parts.len().max(1);
    let mut round: u64 = 0;
    let mut cursor = 0usize;
    let mut events = Events::with_capacity(256);
    let mut buf = vec![0u8; 2048];
    let mut pcm = vec![0i16; FRAME * 6];
    let drain_until = run.end + Duration::from_millis(300);
    let period_ns = FRAME_PERIOD.as_nanos() as u64;

    let due = |round: u64, cursor: usize| -> Instant {
        let offset_ns = round * period_ns + (cursor as u64 * period_ns) / n as u64;
        run.start + Duration::from_nanos(offset_ns)
    };

    loop {
        let now = Instant::now();
        if now >= drain_until {
            break;
        }
        // Send every packet that is due.
        if now < run.end {
            while !parts.is_empty() && due(round, cursor) <= now {
                let scheduled = due(round, cursor);
                let measuring = scheduled >= run.measure_from;
                let late = now.saturating_duration_since(scheduled);
                if measuring {
                    res.max_send_delay = res.max_send_delay.max(late);
                    if late > LATE_SEND {
                        res.late_sends += 1;
                    }
                }
                if let Some(p) = order.get(cursor).and_then(|&i| parts.get_mut(i)) {
                    send_one(
                        p, round, &socks, &audio, &onsets, &run, &mut buf, measuring, &mut res,
                    );
                }
                cursor += 1;
                if cursor >= parts.len() {
                    cursor = 0;
                    round += 1;
                }
            }
        }
        let wait = if now < run.end && !parts.is_empty() {
            due(round, cursor).saturating_duration_since(Instant::now())
        } else {
            drain_until.saturating_duration_since(Instant::now())
        };
        poll.poll(&mut events, Some(wait.min(Duration::from_millis(5))))?;
        for ev in events.iter() {
            let Some(sock) = socks.get(ev.token().0) else {
                continue;
            };
            loop {
                match sock.recv_from(&mut buf) {
                    Ok((len, _)) => {
                        let t = Instant::now();
                        // Same window as the engine-side snapshots.
                        let measuring = t >= run.measure_from && t <= run.end;
                        let Some(datagram) = buf.get_mut(..len) else {
                            continue;
                        };
                        receive_one(
                            datagram, t, measuring, &mut parts, &by_ssrc, &onsets, &mut pcm,
                            &mut res,
                        );
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
    }

    for p in &parts {
        if let Some(h) = p.highest {
            res.expected += u64::try_from(h - p.first + 1).unwrap_or(0);
        }
        for t in &p.tags {
            if Some(t.talker) == p.plan.talker.map(|(_, g)| g) {
                continue;
            }
            res.pairs += 1;
            if t.heard_frames > 0 {
                res.pairs_heard += 1;
            }
            res.tag_frames_heard += t.heard_frames;
        }
    }
    Ok(res)
}

#[allow(clippy::too_many_arguments)] // One packet's worth of context; grouping adds nothing.
fn send_one(
    p: &mut Participant,
    round: u64,
    socks: &[UdpSocket],
    audio: &SharedAudio,
    onsets: &Onsets,
    run: &RunPlan,
    buf: &mut [u8],
    measuring: bool,
    res: &mut ClientResult,
) {
    let (payload, level, onset, voiced) = match p.plan.talker {
        Some((tag, talker)) => {
            let (Some(a), Some(enc)) = (audio.audio.get(tag), audio.encoded.get(tag)) else {
                return;
            };
            let frames = a.frames().max(1);
            let f = (p.plan.frame_offset + round as usize) % frames;
            let voiced = a.voiced.get(f).copied().unwrap_or(false);
            let level = a.levels.get(f).copied().unwrap_or(127);
            let Some(payload) = enc.get(f) else {
                return;
            };
            let mark = if a.is_onset(f) {
                Some((talker, Mark::Onset))
            } else if a.is_switch(f) {
                Some((talker, Mark::Switch))
            } else {
                None
            };
            (payload.as_slice(), level, mark, voiced)
        }
        None => {
            if !round.is_multiple_of(run.listener_every_frames.max(1)) {
                return;
            }
            (audio.silence.as_slice(), 127u8, None, false)
        }
    };
    let level_byte = [(u8::from(voiced) << 7) | (level & 0x7F)];
    let ext = [Extension {
        id: AUDIO_LEVEL_EXT_ID,
        data: &level_byte,
    }];
    let header = RtpHeader {
        marker: matches!(onset, Some((_, Mark::Onset))),
        payload_type: PAYLOAD_TYPE,
        sequence_number: p.seq,
        timestamp: p
            .plan
            .ts0
            .wrapping_add((round as u32).wrapping_mul(FRAME as u32)),
        ssrc: p.plan.ssrc_in,
        extensions: if run.audio_level { &ext } else { &[] },
        ..RtpHeader::default()
    };
    let Ok(len) = header.write(payload, buf) else {
        res.send_failures += u64::from(measuring);
        return;
    };
    let Ok(total) = p.tx.protect_rtp(buf, len) else {
        res.send_failures += u64::from(measuring);
        return;
    };
    p.seq = p.seq.wrapping_add(1);
    let (Some(sock), Some(data)) = (socks.get(p.plan.socket), buf.get(..total)) else {
        return;
    };
    if let Some((talker, mark)) = onset {
        onsets.store(talker, mark, Instant::now());
    }
    match sock.send_to(data, p.plan.engine_addr) {
        Ok(_) => {
            res.sent_total += 1;
            if measuring {
                res.sent += 1;
                res.voiced_frames_sent += u64::from(voiced);
            }
        }
        Err(_) => res.send_failures += u64::from(measuring),
    }
}
