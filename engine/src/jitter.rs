//! The adaptive jitter buffer of one incoming stream.
//!
//! This module owns reordering, duplicate and late detection, sequence-number extension
//! across wrap, the distinction between loss (a sequence gap) and DTX (a timestamp gap
//! with contiguous sequence numbers), and the playout delay: its target follows the
//! measured delay spread of recent packets (held for [`JitterConfig::peak_hold`], then
//! forgotten; the single latest packet of each quarter of that window is set aside, so a
//! stray late packet is concealed instead of delaying the whole stream), bounded by
//! [`JitterConfig::min_target`] and [`JitterConfig::max_target`].
//! The buffer grows its delay by stalling when the next packet is missing but not yet
//! overdue, and shrinks it by discarding a frame when it holds more than the target.
//!
//! It works on [`SLOTS`] preallocated slots of [`MAX_PAYLOAD`] bytes and must never
//! allocate after construction, read the clock (arrival times are arguments, in
//! microseconds of the caller's timeline) or decode audio.

use crate::config::JitterConfig;

/// Slots per buffer: 16 frames of 20 ms, above the 200 ms maximum target.
pub const SLOTS: usize = 16;
/// The largest payload a slot holds (the largest Opus frame, RFC 6716 R2).
pub const MAX_PAYLOAD: usize = 1275;
/// Samples per frame at 48 kHz (20 ms): the buffer's unit of playout.
pub const FRAME_TS: u32 = 960;
/// Delay-spread buckets; each covers `peak_hold / BUCKETS`.
const BUCKETS: usize = 4;
const FRAME_US: i64 = 20_000;
/// Pops per window of the slow delay trim (1 s): when the buffer held more than its
/// target during a whole window, one frame is dropped.
const WINDOW_TICKS: u32 = 50;

/// What [`JitterBuffer::insert`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored for playout.
    Stored,
    /// Its playout time has passed.
    Late,
    /// A copy is already stored.
    Duplicate,
    /// Larger than a slot.
    TooLarge,
}

/// What to play at one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playout<'a> {
    /// The next frame: its payload and its RFC 6464 level byte, if it carried one.
    Frame {
        /// The Opus payload.
        payload: &'a [u8],
        /// RFC 6464 level (−dBov) and voice flag.
        level: Option<(bool, u8)>,
        /// When the packet was received (caller's timeline; see
        /// [`JitterBuffer::set_received`]).
        received_us: i64,
    },
    /// The next frame is lost; `fec` is the packet after it, whose in-band FEC can
    /// rebuild it, if it is here.
    Lost {
        /// The following packet, for FEC.
        fec: Option<&'a [u8]>,
    },
    /// Nothing to play: buffering, waiting for a late packet, or the sender is silent.
    Nothing,
}

#[derive(Debug, Clone)]
struct Slot {
    seq: u64,
    ts: u32,
    len: u16,
    level: Option<(bool, u8)>,
    /// When it was received (for the server-added latency measurement).
    received_us: i64,
    filled: bool,
    data: [u8; MAX_PAYLOAD],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No packet yet.
    Empty,
    /// Waiting until the target delay is buffered.
    Buffering,
    /// Playing one frame per tick.
    Playing,
}

/// The delay spread seen during one slice of the peak-hold window.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    start_us: i64,
    min: i64,
    /// The largest relative delay of the slice, and the second largest: the target
    /// follows the second, so one stray late packet per slice is concealed rather than
    /// buying every later packet of the stream extra delay for the whole hold time
    /// (on a loaded host a sender's scheduler delays a packet now and then; sustained
    /// jitter delays many, and the target follows it as before).
    max: i64,
    second: i64,
}

impl Bucket {
    /// The slice's largest delay once its single largest is set aside (a slice with
    /// one packet counts that packet).
    fn robust_max(&self) -> i64 {
        if self.second == i64::MIN {
            self.max
        } else {
            self.second
        }
    }
}

/// One stream's jitter buffer.
#[derive(Debug)]
pub struct JitterBuffer {
    slots: Box<[Slot]>,
    state: State,
    /// Extended sequence number and timestamp of the next frame to play.
    play_seq: u64,
    play_ts: u32,
    /// Highest extended sequence number received, and its timestamp.
    high_seq: u64,
    high_ts: u32,
    have_high: bool,
    /// Relative delay (µs) of the last packet: playable tick minus media time,
    /// accumulated.
    rel_delay: i64,
    last_arrival_us: i64,
    /// The last tick [`JitterBuffer::pop`] ran at: the playout grid.
    last_pop_us: Option<i64>,
    /// Until when a recent sequence gap keeps one frame of slack, so that a lost
    /// packet's successor is here in time to rebuild it with in-band FEC.
    gap_hold_until_us: i64,
    hold_us: i64,
    last_ts: u32,
    buckets: [Bucket; BUCKETS],
    bucket_us: i64,
    min_target_us: i64,
    max_target_us: i64,
    target_us: i64,
    ticks_since_drop: u32,
    idle_ticks: u32,
    /// The smallest depth seen in the current window of [`WINDOW_TICKS`] pops.
    window_min_depth: i64,
    window_ticks: u32,
    /// Frames discarded to shrink the delay.
    pub accelerated: u64,
}

impl JitterBuffer {
    /// A buffer with [`SLOTS`] preallocated slots.
    pub fn new(cfg: &JitterConfig) -> Self {
        let slot = Slot {
            seq: 0,
            ts: 0,
            len: 0,
            level: None,
            received_us: 0,
            filled: false,
            data: [0; MAX_PAYLOAD],
        };
        let min_target_us = i64::try_from(cfg.min_target.as_micros()).unwrap_or(FRAME_US);
        let max_target_us = i64::try_from(cfg.max_target.as_micros())
            .unwrap_or(200_000)
            .clamp(min_target_us, (SLOTS as i64 - 2) * FRAME_US);
        let hold = i64::try_from(cfg.peak_hold.as_micros()).unwrap_or(2_000_000);
        JitterBuffer {
            slots: vec![slot; SLOTS].into_boxed_slice(),
            state: State::Empty,
            play_seq: 0,
            play_ts: 0,
            high_seq: 0,
            high_ts: 0,
            have_high: false,
            rel_delay: 0,
            last_arrival_us: 0,
            last_pop_us: None,
            gap_hold_until_us: i64::MIN,
            hold_us: hold,
            last_ts: 0,
            buckets: [Bucket {
                start_us: i64::MIN,
                min: 0,
                max: 0,
                second: i64::MIN,
            }; BUCKETS],
            bucket_us: (hold / BUCKETS as i64).max(1),
            min_target_us,
            max_target_us,
            target_us: min_target_us,
            ticks_since_drop: 0,
            idle_ticks: 0,
            window_min_depth: i64::MAX,
            window_ticks: 0,
            accelerated: 0,
        }
    }

    /// Forgets every packet and the delay history (a new sender, or a long silence).
    pub fn reset(&mut self) {
        for s in self.slots.iter_mut() {
            s.filled = false;
        }
        self.state = State::Empty;
        self.have_high = false;
        for b in &mut self.buckets {
            b.start_us = i64::MIN;
        }
        self.gap_hold_until_us = i64::MIN;
        self.target_us = self.min_target_us;
    }

    /// The target rounded to whole frames, forgiving 2 ms of measurement noise.
    fn target_quantized_us(&self) -> i64 {
        (self.target_us - 2_000 + FRAME_US - 1).max(FRAME_US) / FRAME_US * FRAME_US
    }

    /// The current target delay in microseconds.
    pub fn target_us(&self) -> i64 {
        self.target_us
    }

    /// Whether nothing is buffered and nothing is playing (a silent sender).
    pub fn is_idle(&self) -> bool {
        self.state != State::Playing && !self.slots.iter().any(|s| s.filled)
    }

    fn extend(&self, seq: u16) -> u64 {
        if !self.have_high {
            // Start high enough that earlier packets of the first burst stay positive.
            return (1u64 << 20) + u64::from(seq);
        }
        let high = self.high_seq;
        let delta = i64::from(seq.wrapping_sub(high as u16) as i16);
        (high as i64 + delta).max(0) as u64
    }

    fn slot_index(seq: u64) -> usize {
        (seq % SLOTS as u64) as usize
    }

    /// The first playout tick at or after `arrival_us` (the arrival itself until the
    /// grid is known).
    fn playable_tick_us(&self, arrival_us: i64) -> i64 {
        match self.last_pop_us {
            Some(last) => {
                let ahead = arrival_us - last;
                last + (ahead + FRAME_US - 1).div_euclid(FRAME_US) * FRAME_US
            }
            None => arrival_us,
        }
    }

    fn observe_delay(&mut self, arrival_us: i64, ts: u32) {
        let arrival_us = self.playable_tick_us(arrival_us);
        if self.have_high {
            let dt_arrival = arrival_us - self.last_arrival_us;
            let dt_media = i64::from(ts.wrapping_sub(self.last_ts) as i32) * 1_000 / 48;
            self.rel_delay += dt_arrival - dt_media;
        } else {
            self.rel_delay = 0;
        }
        self.last_arrival_us = arrival_us;
        self.last_ts = ts;
        let idx = ((arrival_us / self.bucket_us).rem_euclid(BUCKETS as i64)) as usize;
        let start = arrival_us - arrival_us.rem_euclid(self.bucket_us);
        if let Some(b) = self.buckets.get_mut(idx) {
            if b.start_us != start {
                *b = Bucket {
                    start_us: start,
                    min: self.rel_delay,
                    max: self.rel_delay,
                    second: i64::MIN,
                };
            } else {
                b.min = b.min.min(self.rel_delay);
                if self.rel_delay > b.max {
                    b.second = b.max;
                    b.max = self.rel_delay;
                } else {
                    b.second = b.second.max(self.rel_delay);
                }
            }
        }
        self.update_target(arrival_us);
    }

    fn update_target(&mut self, now_us: i64) {
        let horizon = self.bucket_us * BUCKETS as i64;
        let mut lo = i64::MAX;
        let mut hi = i64::MIN;
        for b in &self.buckets {
            if b.start_us != i64::MIN && now_us - b.start_us < horizon {
                lo = lo.min(b.min);
                hi = hi.max(b.robust_max());
            }
        }
        let spread = if lo <= hi { hi - lo } else { 0 };
        let fec_slack = if now_us < self.gap_hold_until_us {
            FRAME_US
        } else {
            0
        };
        self.target_us =
            (self.min_target_us + spread + fec_slack).clamp(self.min_target_us, self.max_target_us);
    }

    /// Records when the packet `seq` just stored was really received, where that differs
    /// from the arrival time its playout was computed from (a packet read after its
    /// call's tick fell due is played by that tick); reported back with the frame.
    pub fn set_received(&mut self, seq: u16, received_us: i64) {
        let ext = self.extend(seq);
        if let Some(slot) = self.slots.get_mut(Self::slot_index(ext)) {
            if slot.filled && slot.seq == ext {
                slot.received_us = received_us;
            }
        }
    }

    /// Stores one packet that arrived at `arrival_us` (µs on the caller's timeline; a
    /// caller whose next tick is overdue passes that tick's time, as the packet will
    /// still be played by it).
    pub fn insert(
        &mut self,
        arrival_us: i64,
        seq: u16,
        ts: u32,
        payload: &[u8],
        level: Option<(bool, u8)>,
    ) -> Inserted {
        if payload.len() > MAX_PAYLOAD {
            return Inserted::TooLarge;
        }
        let ext = self.extend(seq);
        if self.have_high && ext > self.high_seq + 1 {
            self.gap_hold_until_us = arrival_us.saturating_add(self.hold_us);
        }
        self.observe_delay(arrival_us, ts);
        if self.state != State::Empty && ext < self.play_seq {
            return Inserted::Late;
        }
        if self.state != State::Empty && ext >= self.play_seq + SLOTS as u64 {
            // Far ahead of playout (a sender restart or a long outage): start over.
            self.reset();
            self.observe_delay(arrival_us, ts);
        }
        if self.state == State::Empty {
            self.state = State::Buffering;
            self.play_seq = ext;
            self.play_ts = ts;
        } else if self.state == State::Buffering && ext < self.play_seq {
            return Inserted::Late;
        }
        let Some(slot) = self.slots.get_mut(Self::slot_index(ext)) else {
            return Inserted::TooLarge;
        };
        if slot.filled && slot.seq == ext {
            return Inserted::Duplicate;
        }
        slot.seq = ext;
        slot.ts = ts;
        slot.level = level;
        slot.received_us = arrival_us;
        slot.len = payload.len() as u16;
        if let Some(dst) = slot.data.get_mut(..payload.len()) {
            dst.copy_from_slice(payload);
        }
        slot.filled = true;
        if !self.have_high || ext > self.high_seq {
            self.high_seq = ext;
            self.high_ts = ts;
            self.have_high = true;
        }
        Inserted::Stored
    }

    fn slot_at(&self, seq: u64) -> Option<&Slot> {
        self.slots
            .get(Self::slot_index(seq))
            .filter(|s| s.filled && s.seq == seq)
    }

    /// Buffered audio from the play position to the newest packet, in µs (one frame
    /// counts for the newest packet itself).
    fn depth_us(&self) -> i64 {
        if !self.have_high {
            return 0;
        }
        let ahead = i64::from(self.high_ts.wrapping_sub(self.play_ts) as i32);
        ahead * 1_000 / 48 + FRAME_US
    }

    fn take(&mut self, seq: u64) {
        if let Some(s) = self.slots.get_mut(Self::slot_index(seq)) {
            if s.seq == seq {
                s.filled = false;
            }
        }
    }

    /// Drops every slot behind the play position.
    fn clear_behind(&mut self) {
        let play = self.play_seq;
        for s in self.slots.iter_mut() {
            if s.filled && s.seq < play {
                s.filled = false;
            }
        }
    }

    /// Advances playout by one frame (one tick) and says what to play.
    pub fn pop(&mut self, now_us: i64) -> Playout<'_> {
        self.last_pop_us = Some(now_us);
        self.update_target(now_us);
        match self.state {
            State::Empty => Playout::Nothing,
            State::Buffering => {
                // Start from the oldest packet held, once the target delay is buffered.
                let mut first: Option<(u64, u32)> = None;
                for s in self.slots.iter().filter(|s| s.filled) {
                    if first.is_none_or(|(q, _)| s.seq < q) {
                        first = Some((s.seq, s.ts));
                    }
                }
                let Some((seq, ts)) = first else {
                    return Playout::Nothing;
                };
                let buffered = i64::from(self.high_ts.wrapping_sub(ts) as i32) * 1_000 / 48;
                if buffered + FRAME_US < self.target_quantized_us() {
                    return Playout::Nothing;
                }
                self.play_seq = seq;
                self.play_ts = ts;
                self.state = State::Playing;
                self.idle_ticks = 0;
                self.play_current()
            }
            State::Playing => self.play_current(),
        }
    }

    fn play_current(&mut self) -> Playout<'_> {
        self.ticks_since_drop = self.ticks_since_drop.saturating_add(1);
        let depth = self.depth_us();
        let target = self.target_quantized_us();
        self.window_min_depth = self.window_min_depth.min(depth);
        self.window_ticks += 1;
        // A whole second with a frame more than the target (e.g. after one late packet
        // on a clean network): trim it, so added latency does not stick.
        let trim = self.window_ticks >= WINDOW_TICKS && self.window_min_depth > target;
        if self.window_ticks >= WINDOW_TICKS {
            self.window_ticks = 0;
            self.window_min_depth = i64::MAX;
        }
        // Far too much buffered (jitter stopped): discard a frame every other tick.
        let fast = depth > target + 2 * FRAME_US && self.ticks_since_drop >= 2;
        if (fast || trim) && self.slot_at(self.play_seq).is_some() {
            self.take(self.play_seq);
            self.play_seq += 1;
            self.play_ts = self.play_ts.wrapping_add(FRAME_TS);
            self.accelerated += 1;
            self.ticks_since_drop = 0;
            if let Some(s) = self.slot_at(self.play_seq) {
                self.play_ts = s.ts;
            }
        }
        if let Some(ts) = self.slot_at(self.play_seq).map(|s| s.ts) {
            let ahead = ts.wrapping_sub(self.play_ts) as i32;
            if ahead > 0 && ahead <= 5 * FRAME_TS as i32 {
                // A short DTX gap: the sender was silent; play silence until its time.
                self.play_ts = self.play_ts.wrapping_add(FRAME_TS);
                if ts.wrapping_sub(self.play_ts) as i32 > 0 {
                    return Playout::Nothing;
                }
            }
            let seq = self.play_seq;
            self.play_seq += 1;
            self.play_ts = ts.wrapping_add(FRAME_TS);
            self.idle_ticks = 0;
            let Some(slot) = self.slots.get_mut(Self::slot_index(seq)) else {
                return Playout::Nothing;
            };
            slot.filled = false;
            let slot: &Slot = slot;
            return Playout::Frame {
                payload: slot.data.get(..usize::from(slot.len)).unwrap_or_default(),
                level: slot.level,
                received_us: slot.received_us,
            };
        }
        // The next packet is missing.
        if self.have_high
            && self.high_seq >= self.play_seq
            && self.depth_us() > self.target_quantized_us()
        {
            // Newer packets are here and the missing one is overdue: it is lost.
            self.play_seq += 1;
            self.play_ts = self.play_ts.wrapping_add(FRAME_TS);
            self.clear_behind();
            let next_ts = self.play_ts;
            let fec = self
                .slot_at(self.play_seq)
                .filter(|s| s.ts == next_ts)
                .map(|s| s.data.get(..usize::from(s.len)).unwrap_or_default());
            return Playout::Lost { fec };
        }
        if self.have_high && self.high_seq >= self.play_seq {
            // Missing but not overdue: stall (this grows the playout delay).
            return Playout::Lost { fec: None };
        }
        // Nothing newer: the sender is silent (DTX) or gone. Rebuffer after a while.
        self.idle_ticks = self.idle_ticks.saturating_add(1);
        self.play_ts = self.play_ts.wrapping_add(FRAME_TS);
        if self.idle_ticks > 2 {
            self.state = State::Buffering;
        }
        Playout::Nothing
    }
}

#[cfg(test)]
mod tests;
