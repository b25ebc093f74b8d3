//! [`Engine`]: the sans-IO media core of one shard.
//!
//! This module owns the shard's preallocated tables (call slots, participant slots, the
//! SSRC and ICE-username indexes), command handling, the demultiplexing of datagrams to
//! participants, the shard's 20 ms tick periods and their sub-tick phases, and the output
//! queues. Input arrives through
//! `handle_command`, `handle_datagram` and `handle_timeout`, each taking `now`; output
//! leaves through `poll_transmit`, `poll_event` and `poll_timeout`. It must never read the
//! clock, open a socket, block, or allocate while handling datagrams and ticks in steady
//! state (commands that add or remove participants may allocate). A panic inside one
//! call's processing ends that call only ([`EndReason::Panicked`]).
//!
//! Files: this one holds the tables and commands; `schedule` the sub-tick phases (which
//! call mixes when, `handle_timeout`, `poll_timeout`); `receive` the datagram paths,
//! `tick` the run of one phase, `output` the building of datagrams at poll time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use talko_codecs::demux::{classify, Kind};

use crate::call::{Call, MixedPackets};
use crate::config::{EngineConfig, ParticipantSpec};
use crate::events::{
    DropCounters, DropReason, EndReason, EngineError, Event, EventQueue, WorkCounters,
};
use crate::ids::{CallId, ParticipantId};
use crate::participant::Participant;
use crate::recorder::{RecorderFeed, RecordingSpec};
use crate::tx::TxQueue;

mod output;
mod receive;
mod schedule;
mod tick;

/// A command from the control plane.
// `AddParticipant` carries keys and credentials; commands are rare control-path
// messages, so their size does not matter and boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Command {
    /// Creates an empty call.
    CreateCall {
        /// The new call's id.
        call: CallId,
    },
    /// Ends a call and removes its participants ([`Event::CallEnded`] follows).
    EndCall {
        /// The call.
        call: CallId,
    },
    /// Adds a participant to a call.
    AddParticipant {
        /// The call.
        call: CallId,
        /// The participant's id.
        participant: ParticipantId,
        /// SSRCs, keys, expected address, payload type.
        spec: ParticipantSpec,
    },
    /// Removes a participant.
    RemoveParticipant {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
    },
    /// Mutes or unmutes what a participant sends.
    SetMute {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
        /// Muted or not.
        muted: bool,
    },
    /// Sets the gain applied to a participant's voice in the mix.
    SetGain {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
        /// Gain in dB (clamped to −60…+20).
        gain_db: f32,
    },
    /// Starts recording a call through the attached recorder
    /// ([`Engine::set_recorder`]); the recorder reports progress itself.
    StartRecording {
        /// The call.
        call: CallId,
        /// What to record.
        spec: RecordingSpec,
    },
    /// Stops recording a call.
    StopRecording {
        /// The call.
        call: CallId,
    },
    /// Test hook: the call's next tick panics.
    #[cfg(feature = "test-hooks")]
    InjectPanic {
        /// The call.
        call: CallId,
    },
}

/// One received datagram in [`Engine::handle_datagrams`]: its sender and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram {
    /// Where it came from.
    pub from: SocketAddr,
    /// Its length at the start of its slot.
    pub len: usize,
}

impl Datagram {
    /// A placeholder for preallocated arrays (unspecified address, no bytes).
    pub const EMPTY: Datagram = Datagram {
        from: UNSPECIFIED,
        len: 0,
    };
}

/// 0.0.0.0:0, the address of placeholder entries.
const UNSPECIFIED: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    0,
));

/// A datagram [`Engine::poll_transmit`] wrote into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub to: SocketAddr,
    /// Its length at the start of the buffer.
    pub len: usize,
}

impl Transmit {
    /// Nothing to send: a placeholder for preallocated arrays, and what
    /// [`Engine::poll_transmit_batch`] reports for a send it could no longer build.
    pub const NOTHING: Transmit = Transmit {
        to: UNSPECIFIED,
        len: 0,
    };
}

/// The sans-IO media core of one shard.
pub struct Engine {
    cfg: EngineConfig,
    calls: Vec<Option<Call>>,
    free_calls: Vec<u32>,
    call_index: HashMap<CallId, u32>,
    /// Calls with at least one member, which tick, by sub-tick phase.
    phases: Vec<Vec<u32>>,
    /// Calls in `phases`.
    active_calls: usize,
    parts: Vec<Option<Participant>>,
    free_parts: Vec<u32>,
    ssrc_index: HashMap<u32, u32>,
    ufrag_index: HashMap<String, u32>,
    events: EventQueue,
    tx: TxQueue,
    drops: DropCounters,
    epoch: Option<Instant>,
    /// Start of the tick period the schedule is in; `None` while no call has members.
    period_start: Option<Instant>,
    /// The next phase of that period to run.
    next_phase: u32,
    /// Whether that period has been counted (one of its phases ran).
    period_open: bool,
    recorder: Option<RecorderFeed>,
    work: WorkCounters,
    /// The packets the call that ticked last mixed (for [`Engine::last_mixed`]).
    mixed: MixedPackets,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("calls", &self.call_index.len())
            .field("participants", &self.ssrc_index.len())
            .field("active", &self.active_calls)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Creates a shard core with every table preallocated from `config`.
    pub fn new(config: EngineConfig) -> Self {
        let max_calls = config.max_calls.max(1);
        let max_parts = config.max_participants.max(1);
        let phases = config.tick_phases.clamp(1, crate::config::MAX_TICK_PHASES);
        let mut calls = Vec::with_capacity(max_calls);
        calls.resize_with(max_calls, || None);
        let mut parts = Vec::with_capacity(max_parts);
        parts.resize_with(max_parts, || None);
        Engine {
            cfg: config,
            calls,
            free_calls: (0..max_calls as u32).rev().collect(),
            call_index: HashMap::with_capacity(max_calls),
            phases: (0..phases).map(|_| Vec::with_capacity(max_calls)).collect(),
            active_calls: 0,
            parts,
            free_parts: (0..max_parts as u32).rev().collect(),
            ssrc_index: HashMap::with_capacity(max_parts),
            ufrag_index: HashMap::with_capacity(max_parts),
            events: EventQueue::with_capacity(4 * max_parts + 64),
            tx: TxQueue::new(2 * max_parts + 64),
            drops: DropCounters::default(),
            epoch: None,
            period_start: None,
            next_phase: 0,
            period_open: false,
            recorder: None,
            work: WorkCounters::default(),
            mixed: MixedPackets::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Attaches the recorder that `StartRecording` feeds: per tick the shared mix (the
    /// already encoded Opus packet and its PCM) and each member's played packet.
    pub fn set_recorder(&mut self, feed: RecorderFeed) {
        self.recorder = Some(feed);
    }

    /// Shard-wide counted drops by reason (including events and sends dropped on full
    /// queues, as [`DropReason::QueueFull`]).
    pub fn drop_counters(&self) -> DropCounters {
        self.drops
    }

    /// Ticks run, ticks missed, and the codec work they did.
    pub fn work_counters(&self) -> WorkCounters {
        self.work
    }

    /// Tick periods skipped because `handle_timeout` was called late.
    pub fn missed_ticks(&self) -> u64 {
        self.work.missed_ticks
    }

    /// Tick periods run so far (20 ms each; a period counts once however many of its
    /// sub-tick phases ran). This is also the recorder's tick number of the period.
    pub fn ticks(&self) -> u64 {
        self.work.ticks
    }

    /// Sub-tick phase runs so far.
    pub fn phase_runs(&self) -> u64 {
        self.work.phase_runs
    }

    /// In a `handle_timeout_with` hook: when the packets the call that just ticked mixed
    /// were received, on the engine's timeline (see [`Engine::timeline_us`]); empty when
    /// it sent no mix.
    pub fn last_mixed(&self) -> &MixedPackets {
        &self.mixed
    }

    /// `now` on the engine's timeline (µs since the first instant it was given), the
    /// clock of [`Engine::last_mixed`]; `None` before the engine saw any instant.
    pub fn timeline_us(&self, now: Instant) -> Option<i64> {
        let epoch = self.epoch?;
        i64::try_from(now.saturating_duration_since(epoch).as_micros()).ok()
    }

    /// Calls on this shard.
    pub fn call_count(&self) -> usize {
        self.call_index.len()
    }

    /// Participants on this shard.
    pub fn participant_count(&self) -> usize {
        self.ssrc_index.len()
    }

    /// The current statistics of one participant.
    pub fn participant_stats(
        &self,
        call: CallId,
        participant: ParticipantId,
    ) -> Option<crate::events::ParticipantStats> {
        let slot = self.find_participant(call, participant).ok()?;
        self.parts.get(slot as usize)?.as_ref().map(|p| p.stats)
    }

    fn now_us(&mut self, now: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(now);
        i64::try_from(now.saturating_duration_since(epoch).as_micros()).unwrap_or(i64::MAX)
    }

    fn call_slot(&self, call: CallId) -> Result<u32, EngineError> {
        self.call_index
            .get(&call)
            .copied()
            .ok_or(EngineError::UnknownCall)
    }

    fn find_participant(&self, call: CallId, id: ParticipantId) -> Result<u32, EngineError> {
        let c = self.call_slot(call)?;
        let call = self
            .calls
            .get(c as usize)
            .and_then(Option::as_ref)
            .ok_or(EngineError::UnknownCall)?;
        call.members
            .iter()
            .copied()
            .find(|&s| {
                self.parts
                    .get(s as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|p| p.id == id)
            })
            .ok_or(EngineError::UnknownParticipant)
    }

    /// Applies one command. Poll events afterwards (e.g. `CallEnded`).
    pub fn handle_command(&mut self, now: Instant, cmd: Command) -> Result<(), EngineError> {
        let now_us = self.now_us(now);
        match cmd {
            Command::CreateCall { call } => {
                if self.call_index.contains_key(&call) {
                    return Err(EngineError::CallExists);
                }
                let slot = self.free_calls.pop().ok_or(EngineError::TooManyCalls)?;
                if let Some(s) = self.calls.get_mut(slot as usize) {
                    *s = Some(Call::new(call, self.cfg.loudest_n));
                }
                self.call_index.insert(call, slot);
                Ok(())
            }
            Command::EndCall { call } => {
                let slot = self.call_slot(call)?;
                self.end_call(slot, EndReason::Ended, now_us);
                Ok(())
            }
            Command::AddParticipant {
                call,
                participant,
                spec,
            } => self.add_participant(now, now_us, call, participant, spec),
            Command::RemoveParticipant { call, participant } => {
                let slot = self.find_participant(call, participant)?;
                self.remove_participant(slot);
                Ok(())
            }
            Command::SetMute {
                call,
                participant,
                muted,
            } => {
                let slot = self.find_participant(call, participant)?;
                if let Some(Some(p)) = self.parts.get_mut(slot as usize) {
                    p.muted = muted;
                }
                Ok(())
            }
            Command::SetGain {
                call,
                participant,
                gain_db,
            } => {
                let slot = self.find_participant(call, participant)?;
                if let Some(Some(p)) = self.parts.get_mut(slot as usize) {
                    p.gain = crate::mixer::db_to_gain(gain_db);
                }
                Ok(())
            }
            Command::StartRecording { call, spec } => {
                let slot = self.call_slot(call)?;
                let tick = self.call_next_tick(slot);
                let rec = self.recorder.as_mut().ok_or(EngineError::NoRecorder)?;
                if let Some(Some(c)) = self.calls.get_mut(slot as usize) {
                    if !c.recording {
                        rec.start(call.0, &spec, tick);
                        c.recording = true;
                    }
                }
                Ok(())
            }
            Command::StopRecording { call } => {
                let slot = self.call_slot(call)?;
                let tick = self.call_next_tick(slot);
                if let Some(Some(c)) = self.calls.get_mut(slot as usize) {
                    if c.recording {
                        c.recording = false;
                        if let Some(rec) = self.recorder.as_mut() {
                            rec.stop(call.0, tick);
                        }
                    }
                }
                Ok(())
            }
            #[cfg(feature = "test-hooks")]
            Command::InjectPanic { call } => {
                let slot = self.call_slot(call)?;
                if let Some(Some(c)) = self.calls.get_mut(slot as usize) {
                    c.inject_panic = true;
                }
                Ok(())
            }
        }
    }

    fn add_participant(
        &mut self,
        now: Instant,
        now_us: i64,
        call: CallId,
        id: ParticipantId,
        spec: ParticipantSpec,
    ) -> Result<(), EngineError> {
        let cslot = self.call_slot(call)?;
        if self.find_participant(call, id).is_ok() {
            return Err(EngineError::ParticipantExists);
        }
        if self.ssrc_index.contains_key(&spec.ssrc_in) {
            return Err(EngineError::SsrcInUse);
        }
        if let Some(ice) = &spec.ice {
            if self.ufrag_index.contains_key(&ice.local_ufrag) {
                return Err(EngineError::SsrcInUse);
            }
        }
        let pslot = *self
            .free_parts
            .last()
            .ok_or(EngineError::TooManyParticipants)?;
        let ssrc_in = spec.ssrc_in;
        let ufrag = spec.ice.as_ref().map(|i| i.local_ufrag.clone());
        let p = Participant::new(id, cslot, spec, &self.cfg, now_us)?;
        let c = self
            .calls
            .get_mut(cslot as usize)
            .and_then(Option::as_mut)
            .ok_or(EngineError::UnknownCall)?;
        let was_empty = c.members.is_empty();
        c.add_member(pslot, &self.cfg.opus)?;
        self.free_parts.pop();
        if let Some(s) = self.parts.get_mut(pslot as usize) {
            *s = Some(p);
        }
        self.ssrc_index.insert(ssrc_in, pslot);
        if let Some(u) = ufrag {
            self.ufrag_index.insert(u, pslot);
        }
        if was_empty {
            self.activate(cslot, now);
        }
        Ok(())
    }

    fn remove_participant(&mut self, pslot: u32) {
        let Some(p) = self.parts.get_mut(pslot as usize).and_then(Option::take) else {
            return;
        };
        self.ssrc_index.remove(&p.ssrc_in);
        if let Some(ice) = &p.ice {
            self.ufrag_index.remove(&ice.local_ufrag);
        }
        self.tx.forget_participant(pslot);
        self.free_parts.push(pslot);
        let cslot = p.call_slot;
        if let Some(Some(c)) = self.calls.get_mut(cslot as usize) {
            c.remove_member(pslot);
            if c.members.is_empty() {
                self.deactivate(cslot);
            }
        }
        drop(p);
    }

    fn end_call(&mut self, cslot: u32, reason: EndReason, _now_us: i64) {
        let Some(mut c) = self.calls.get_mut(cslot as usize).and_then(Option::take) else {
            return;
        };
        for m in c.members.drain(..) {
            if let Some(p) = self.parts.get_mut(m as usize).and_then(Option::take) {
                self.ssrc_index.remove(&p.ssrc_in);
                if let Some(ice) = &p.ice {
                    self.ufrag_index.remove(&ice.local_ufrag);
                }
                self.tx.forget_participant(m);
                self.free_parts.push(m);
            }
        }
        let was_active = self.deactivate(cslot);
        if c.recording {
            let tick = self.next_tick_in_phase(was_active.then_some(c.phase));
            if let Some(rec) = self.recorder.as_mut() {
                rec.stop(c.id.0, tick);
            }
        }
        self.tx.forget_call(cslot);
        self.call_index.remove(&c.id);
        self.free_calls.push(cslot);
        self.events.push(Event::CallEnded { call: c.id, reason });
    }

    fn count_drop(&mut self, part: Option<u32>, reason: DropReason) {
        self.drops.count(reason);
        if let Some(Some(p)) = part.and_then(|s| self.parts.get_mut(s as usize)) {
            p.drop_packet(reason);
        }
    }

    /// Handles one received datagram (modified in place: SRTP is removed). Never panics;
    /// anything unusable is a counted drop. Afterwards drain `poll_transmit` (STUN
    /// answers) and `poll_event` (`MediaStarted`).
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &mut [u8]) {
        let now_us = self.now_us(now);
        if datagram.len() > self.cfg.max_datagram {
            self.count_drop(None, DropReason::TooLarge);
            return;
        }
        match classify(datagram) {
            Kind::Rtp => self.handle_rtp(now_us, from, datagram, None),
            Kind::Rtcp => self.handle_rtcp(now_us, from, datagram),
            Kind::Stun => self.handle_stun(from, datagram),
            Kind::Dtls => self.count_drop(None, DropReason::Unsupported),
            Kind::Other => self.count_drop(None, DropReason::Malformed),
        }
    }

    /// The next event, from a fixed-capacity queue.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }
}
