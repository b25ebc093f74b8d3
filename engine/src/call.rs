//! One call and its 20 ms mixer tick.
//!
//! This module owns a call's member list, its loudest-N selection, its encoders (one
//! shared full-mix encoder plus one mix-minus encoder per speaker slot, created when the
//! call gets its first participant) and the tick: every member plays one frame out of
//! its jitter buffer, the selection is updated, the mixes are summed, limited and encoded
//! once each, and one send per listener is queued (the packet itself is re-headed and
//! protected in [`crate::Engine::poll_transmit`]). No listener ever gets a packet whose
//! encoder history holds its own voice: a speaker slot's encoder starts afresh for each
//! new occupant, any encoder that skipped a tick starts afresh, and a member leaving
//! its slot hears its old slot's encoder (or nothing) for one tick before switching to
//! the shared stream, whose next packet still carries the frame with its voice (Opus
//! lookahead and in-band FEC). A call where nobody talks decodes
//! nothing and encodes nothing. It must never allocate during a tick, read the clock,
//! or touch another call.

use talko_codecs::opus::codec::{Encoder, OpusError, FRAME_SAMPLES, MAX_PACKET};
use talko_codecs::rtp::RtpHeader;

use crate::config::OpusSettings;
use crate::events::{EngineError, Event, EventQueue, WorkCounters};
use crate::ids::CallId;
use crate::level::TalkChange;
use crate::limiter::Limiter;
use crate::mixer::{accumulate, mix_minus, Candidate, Selection, SlotChange, MAX_SPEAKERS};
use crate::participant::Participant;
use crate::recorder::RecorderFeed;
use crate::tx::{Pending, Source, TxQueue};

/// Room for one RTP packet: header, the largest Opus packet and the largest SRTP tag.
pub const RTP_BUF: usize = 1_500;
const HEADER_LEN: usize = 12;

/// One encoded output stream of a call (the shared mix or one mix-minus).
pub(crate) struct MixOut {
    enc: Encoder,
    limiter: Limiter,
    /// The encoded packet with a placeholder RTP header; `len == 0` when nothing was
    /// encoded this tick.
    pub rtp: Box<[u8; RTP_BUF]>,
    pub len: usize,
    /// The call tick of the last encode: an encoder that skipped a tick starts afresh,
    /// since its lookahead and in-band FEC still hold a mix from before the gap.
    last_tick: Option<u64>,
}

impl MixOut {
    fn new(s: &OpusSettings) -> Result<MixOut, EngineError> {
        let mut enc = Encoder::voip_mono()?;
        enc.set_bitrate(s.bitrate)?;
        enc.set_complexity(s.complexity)?;
        enc.set_fec(s.fec)?;
        enc.set_dtx(s.dtx)?;
        enc.set_packet_loss_pct(s.expected_loss_pct)?;
        let mut rtp = Box::new([0u8; RTP_BUF]);
        let header = RtpHeader {
            marker: false,
            payload_type: 111,
            sequence_number: 0,
            timestamp: 0,
            ssrc: 0,
            csrcs: &[],
            extensions: &[],
            padding: 0,
        };
        header
            .write(&[], &mut rtp[..])
            .map_err(|_| EngineError::Opus(OpusError::BadArg))?;
        Ok(MixOut {
            enc,
            limiter: Limiter::new(),
            rtp,
            len: 0,
            last_tick: None,
        })
    }

    /// Limits and encodes `mix` as call tick `tick`; sets `len` (0 on failure or a DTX
    /// "nothing" frame).
    fn encode(
        &mut self,
        mix: &[f32; FRAME_SAMPLES],
        pcm: &mut [i16; FRAME_SAMPLES],
        tick: u64,
    ) -> Result<(), OpusError> {
        self.len = 0;
        if self.last_tick != Some(tick.wrapping_sub(1)) {
            self.restart()?;
        }
        self.last_tick = Some(tick);
        self.limiter.process(mix, pcm);
        let payload = self
            .rtp
            .get_mut(HEADER_LEN..HEADER_LEN + MAX_PACKET)
            .ok_or(OpusError::BufferTooSmall)?;
        let n = self.enc.encode(pcm, payload)?;
        // With DTX, 1–2 bytes mean "no audio to send".
        if n > 2 {
            self.len = HEADER_LEN + n;
        }
        Ok(())
    }

    /// Forgets everything encoded so far (a new occupant of a speaker slot): the
    /// encoder's lookahead, prediction and in-band FEC of the previous frame all hold
    /// the mix the previous occupant heard, which contains the new occupant's voice.
    fn restart(&mut self) -> Result<(), OpusError> {
        self.limiter = Limiter::new();
        self.last_tick = None;
        self.enc.reset()
    }

    /// The packet encoded this tick, if any.
    pub(crate) fn packet(&self) -> Option<&[u8]> {
        (self.len > 0).then(|| self.rtp.get(..self.len)).flatten()
    }
}

/// The encoders and scratch of a call with members.
pub(crate) struct Mixing {
    pub shared: MixOut,
    pub speakers: Vec<MixOut>,
    mix: Box<[f32; FRAME_SAMPLES]>,
    scratch: Box<[f32; FRAME_SAMPLES]>,
    pcm: Box<[i16; FRAME_SAMPLES]>,
    /// The shared mix as PCM (for the recorder), valid when `shared.len > 0`.
    pub shared_pcm: Box<[i16; FRAME_SAMPLES]>,
}

impl Mixing {
    pub(crate) fn new(n: usize, s: &OpusSettings) -> Result<Mixing, EngineError> {
        let mut speakers = Vec::with_capacity(n);
        for _ in 0..n {
            speakers.push(MixOut::new(s)?);
        }
        Ok(Mixing {
            shared: MixOut::new(s)?,
            speakers,
            mix: Box::new([0.0; FRAME_SAMPLES]),
            scratch: Box::new([0.0; FRAME_SAMPLES]),
            pcm: Box::new([0; FRAME_SAMPLES]),
            shared_pcm: Box::new([0; FRAME_SAMPLES]),
        })
    }
}

/// One call.
pub(crate) struct Call {
    pub id: CallId,
    /// Participant slots of the members, in join order.
    pub members: Vec<u32>,
    cands: Vec<Candidate>,
    pub sel: Selection,
    pub mixing: Option<Box<Mixing>>,
    /// Ticks run since the call got members (the RTP clock of its mixes).
    pub ticks: u64,
    /// The sub-tick phase the call mixes in (set when it gets its first member).
    pub phase: u32,
    /// The engine period (`WorkCounters::ticks`) of the call's last tick, 0 before
    /// the first: a call never ticks twice in one period.
    pub last_period: u64,
    pub inject_panic: bool,
    pub recording: bool,
    /// An encoder failure was reported (once per call).
    pub encode_failed: bool,
}

impl Call {
    pub(crate) fn new(id: CallId, loudest_n: usize) -> Call {
        Call {
            id,
            members: Vec::new(),
            cands: Vec::new(),
            sel: Selection::new(loudest_n.min(MAX_SPEAKERS)),
            mixing: None,
            ticks: 0,
            phase: 0,
            last_period: 0,
            inject_panic: false,
            recording: false,
            encode_failed: false,
        }
    }

    /// Adds a member (command path: may allocate).
    pub(crate) fn add_member(&mut self, slot: u32, s: &OpusSettings) -> Result<(), EngineError> {
        if self.mixing.is_none() {
            self.mixing = Some(Box::new(Mixing::new(self.sel.len(), s)?));
        }
        self.members.push(slot);
        self.cands.reserve(self.members.len());
        Ok(())
    }

    /// Removes a member; returns whether it was one.
    pub(crate) fn remove_member(&mut self, slot: u32) -> bool {
        let Some(i) = self.members.iter().position(|&m| m == slot) else {
            return false;
        };
        self.sel.remove(i);
        self.members.swap_remove(i);
        let last = self.members.len();
        self.sel.rename(last, i);
        if self.members.is_empty() {
            // An empty call keeps nothing alive.
            self.mixing = None;
            self.ticks = 0;
        }
        true
    }
}

/// Everything one call's tick touches besides the call itself.
pub(crate) struct TickCtx<'a> {
    pub parts: &'a mut [Option<Participant>],
    pub events: &'a mut EventQueue,
    pub tx: &'a mut TxQueue,
    /// The recorder, when this call is being recorded.
    pub recorder: Option<&'a mut RecorderFeed>,
    /// The engine's tick number (the recorder's timeline).
    pub tick: u64,
    /// Shard-wide work counters.
    pub work: &'a mut WorkCounters,
    pub call_slot: u32,
    pub now_us: i64,
    /// Receive times of the packets this tick's mix is made of.
    pub mixed: &'a mut MixedPackets,
}

/// When the packets one call's mix was made of were received (engine timeline, µs): at
/// most one per speaker slot. The driver subtracts them from the instant the mix went
/// out — the server-added latency.
#[derive(Debug, Clone, Copy, Default)]
pub struct MixedPackets {
    received_us: [i64; MAX_SPEAKERS],
    len: usize,
}

impl MixedPackets {
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    fn push(&mut self, received_us: i64) {
        if let Some(r) = self.received_us.get_mut(self.len) {
            *r = received_us;
            self.len += 1;
        }
    }

    /// The receive times, one per packet mixed.
    pub fn received_us(&self) -> &[i64] {
        self.received_us.get(..self.len).unwrap_or(&[])
    }
}

/// Runs one 20 ms tick of `call`.
pub(crate) fn tick(call: &mut Call, ctx: TickCtx<'_>) {
    if call.inject_panic {
        call.inject_panic = false;
        panic!("injected panic in call {:?}", call.id);
    }
    let TickCtx {
        parts,
        events,
        tx,
        mut recorder,
        tick: engine_tick,
        work,
        call_slot,
        now_us,
        mixed,
    } = ctx;
    let id = call.id;
    call.cands.clear();
    // 1. Every member plays one frame.
    for (i, &slot) in call.members.iter().enumerate() {
        let Some(Some(p)) = parts.get_mut(slot as usize) else {
            continue;
        };
        let codec_calls = p.stats.decoded_frames + p.stats.fec_frames + p.stats.plc_frames;
        let change = match recorder.as_deref_mut() {
            Some(rec) => {
                let (call_no, part_no) = (id.0, p.id.0);
                p.tick(now_us, |pkt| {
                    rec.track_packet(call_no, part_no, engine_tick, pkt)
                })
            }
            None => p.tick(now_us, |_| {}),
        };
        work.decodes +=
            p.stats.decoded_frames + p.stats.fec_frames + p.stats.plc_frames - codec_calls;
        match change {
            Some(TalkChange::Started) => events.push(Event::TalkingStarted {
                call: id,
                participant: p.id,
            }),
            Some(TalkChange::Stopped) => events.push(Event::TalkingStopped {
                call: id,
                participant: p.id,
            }),
            None => {}
        }
        call.cands.push(Candidate {
            member: i,
            loudness: p.vad.loudness(),
            eligible: p.vad.talking() && !p.muted,
        });
    }
    // 2. Loudest-N selection. A member that leaves its slot this tick was in the
    // previous full mix, and the shared encoder's next packet still carries the tail of
    // that frame (lookahead and in-band FEC): it must not hear the shared stream before
    // the next tick. It gets the mix through its old slot's encoder (whose history is
    // the mix without it) while that slot stays free, else nothing for one frame.
    let members = &call.members;
    let mut leaving: [Option<usize>; MAX_SPEAKERS] = [None; MAX_SPEAKERS];
    let mut taken = [false; MAX_SPEAKERS];
    let mut restart_failed = None;
    let mixing_now = call.mixing.as_deref_mut();
    let mut speakers_now = mixing_now.map(|m| &mut m.speakers);
    call.sel.update(&call.cands, |change| {
        let (member, slot) = match change {
            SlotChange::Freed { member, slot } => {
                if let Some(l) = leaving.get_mut(slot) {
                    *l = Some(member);
                }
                (member, None)
            }
            SlotChange::Taken { slot, member } => {
                if let Some(t) = taken.get_mut(slot) {
                    *t = true;
                }
                if let Some(out) = speakers_now.as_mut().and_then(|s| s.get_mut(slot)) {
                    restart_failed = restart_failed.or(out.restart().err());
                }
                (member, Some(slot))
            }
        };
        if let Some(Some(p)) = members.get(member).and_then(|&s| parts.get_mut(s as usize)) {
            p.speaker = slot;
        }
    });
    let tick_no = call.ticks;
    call.ticks = call.ticks.wrapping_add(1);
    let Some(mixing) = call.mixing.as_deref_mut() else {
        if let Some(rec) = recorder {
            rec.mix_frame(id.0, engine_tick, None, None);
        }
        return;
    };
    mixing.shared.len = 0;
    for s in mixing.speakers.iter_mut() {
        s.len = 0;
    }
    // 3. Sum the selected speakers that have audio this tick.
    let mut voices = 0usize;
    mixing.mix.fill(0.0);
    for slot in call.sel.slots.iter().take(call.sel.len()).flatten() {
        if let Some(Some(p)) = call.members.get(*slot).and_then(|&s| parts.get(s as usize)) {
            if p.has_audio {
                accumulate(&mut mixing.mix, &p.pcm, p.gain);
                voices += 1;
                if let Some(r) = p.played_received_us {
                    mixed.push(r);
                }
            }
        }
    }
    if voices == 0 {
        // Nobody talks: no encode, nothing to send.
        mixed.clear();
        if let Some(rec) = recorder {
            rec.mix_frame(id.0, engine_tick, None, None);
        }
        return;
    }
    // 4. One shared encode, and one mix-minus encode per speaker slot.
    let mut failed = restart_failed.or(mixing
        .shared
        .encode(&mixing.mix, &mut mixing.shared_pcm, tick_no)
        .err());
    work.encodes += 1;
    if let Some(rec) = recorder {
        // The recording gets the shared packet as sent (no extra encode) and its PCM.
        let opus = mixing.shared.packet().and_then(|p| p.get(HEADER_LEN..));
        rec.mix_frame(id.0, engine_tick, opus, Some(&mixing.shared_pcm[..]));
    }
    for (slot, member) in call.sel.slots.iter().enumerate().take(call.sel.len()) {
        let Some(member) = member else { continue };
        let Some(Some(p)) = call
            .members
            .get(*member)
            .and_then(|&s| parts.get(s as usize))
        else {
            continue;
        };
        let Some(out) = mixing.speakers.get_mut(slot) else {
            continue;
        };
        if p.has_audio {
            if voices == 1 {
                // The only voice is this speaker's own: it hears silence.
                continue;
            }
            mix_minus(&mut mixing.scratch, &mixing.mix, &p.pcm, p.gain);
            failed = failed.or(out.encode(&mixing.scratch, &mut mixing.pcm, tick_no).err());
        } else {
            failed = failed.or(out.encode(&mixing.mix, &mut mixing.pcm, tick_no).err());
        }
        work.encodes += 1;
    }
    for (slot, leaver) in leaving.iter().enumerate() {
        if leaver.is_none() || taken.get(slot).copied().unwrap_or(true) {
            continue;
        }
        // The mix no longer holds the leaver's voice (it is not selected this tick).
        if let Some(out) = mixing.speakers.get_mut(slot) {
            failed = failed.or(out.encode(&mixing.mix, &mut mixing.pcm, tick_no).err());
            work.encodes += 1;
        }
    }
    if let Some(e) = failed {
        // Reported once per call; the affected listeners get nothing this tick.
        if !call.encode_failed {
            call.encode_failed = true;
            events.push(Event::Error {
                call: Some(id),
                error: EngineError::Opus(e),
            });
        }
    }
    // 5. Queue one send per listener with a latched address.
    let ts_offset = (tick_no as u32).wrapping_mul(FRAME_SAMPLES as u32);
    for (i, &slot) in call.members.iter().enumerate() {
        let Some(Some(p)) = parts.get_mut(slot as usize) else {
            continue;
        };
        let Some(to) = p.addr else { continue };
        // A leaver whose slot went to a newcomer gets nothing this tick.
        let left = leaving.iter().position(|l| *l == Some(i));
        if left.is_some_and(|s| taken.get(s).copied().unwrap_or(true)) {
            continue;
        }
        let source = match p.speaker.or(left) {
            Some(s) => {
                if mixing.speakers.get(s).is_none_or(|o| o.len == 0) {
                    continue;
                }
                Source::Speaker(s as u8)
            }
            None => {
                if mixing.shared.len == 0 {
                    continue;
                }
                Source::Shared
            }
        };
        work.packets_out += 1;
        let seq = p.out_seq;
        p.out_seq = p.out_seq.wrapping_add(1);
        tx.push(Pending::Media {
            part: slot,
            call: call_slot,
            source,
            seq,
            ts: p.out_ts_base.wrapping_add(ts_offset),
            to,
        });
    }
}
