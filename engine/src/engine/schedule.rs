//! The shard's tick schedule: one grid of 20 ms periods, each divided into
//! [`EngineConfig::tick_phases`](crate::EngineConfig::tick_phases) sub-tick phases.
//!
//! Owns which call mixes when: a call is placed in the least loaded phase when it gets
//! its first member and keeps it while it has members; `handle_timeout` runs the phases
//! that are due, in order, each call exactly once per period; `poll_timeout` is the next
//! phase boundary that holds calls (one timer per shard, none while no call has
//! members). Periods are what is counted (`ticks`, `missed_ticks`, the recorder's tick
//! numbers); a late engine catches up at most [`MAX_CATCH_UP`] periods per call and skips
//! whole periods beyond that, counting them. Must never read the clock or allocate.

use std::time::{Duration, Instant};

use super::Engine;

/// How many overdue tick periods one `handle_timeout` starts before skipping ahead.
const MAX_CATCH_UP: u32 = 3;

/// A call's weight in a phase's load, counted in members. A call with talkers costs
/// one shared encode plus up to three mix-minus encodes per period (about 1 ms at
/// complexity 5), a member one re-header, SRTP protect and send (a few µs): the call
/// count dominates, and members break ties between phases with as many calls. Calls
/// without talkers cost almost nothing, but who will talk is unknown when a call is
/// placed.
const CALL_WEIGHT: usize = 32;

/// The next phase run that falls due.
#[derive(Debug, Clone, Copy)]
struct Due {
    at: Instant,
    phase: u32,
    /// It lies in the period after `period_start`.
    next_period: bool,
}

impl Engine {
    fn tick_len(&self) -> Duration {
        self.cfg.tick.max(Duration::from_millis(1))
    }

    fn phase_count(&self) -> u32 {
        u32::try_from(self.phases.len()).unwrap_or(1).max(1)
    }

    /// The offset of phase `k` from the start of its period.
    fn phase_offset(&self, k: u32) -> Duration {
        let t = self.tick_len().as_nanos();
        let n = t * u128::from(k) / u128::from(self.phase_count());
        Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn phase_has_calls(&self, k: u32) -> bool {
        self.phases.get(k as usize).is_some_and(|l| !l.is_empty())
    }

    /// The first period boundary after `now` on the shard's grid.
    fn align_period(&self, now: Instant) -> Instant {
        let epoch = self.epoch.unwrap_or(now);
        let since = now.saturating_duration_since(epoch).as_nanos();
        let t = self.tick_len().as_nanos();
        let k = since / t + 1;
        epoch + Duration::from_nanos(u64::try_from(k * t).unwrap_or(u64::MAX))
    }

    /// The phase with the least load ([`CALL_WEIGHT`] per call plus its members). Among
    /// equally loaded phases, the one farthest from any phase holding calls (an empty
    /// phase's circular distance to the nearest occupied one; 0 when it holds calls
    /// itself), then the earliest: calls spread evenly over the period, whatever the
    /// number of phases.
    fn least_loaded_phase(&self) -> u32 {
        let load = |k: u32| -> usize {
            self.phases.get(k as usize).map_or(usize::MAX, |list| {
                list.iter()
                    .map(|&c| {
                        let members = self
                            .calls
                            .get(c as usize)
                            .and_then(Option::as_ref)
                            .map_or(0, |c| c.members.len());
                        CALL_WEIGHT + members
                    })
                    .sum()
            })
        };
        let p = self.phase_count();
        let gap = |k: u32| -> u32 {
            if self.phase_has_calls(k) {
                return 0;
            }
            (1..=p / 2)
                .find(|&d| {
                    self.phase_has_calls((k + d) % p) || self.phase_has_calls((k + p - d) % p)
                })
                .unwrap_or(p)
        };
        let mut best = 0;
        let mut best_key = (usize::MAX, 0);
        for k in 0..p {
            let l = load(k);
            if l > best_key.0 {
                continue;
            }
            let g = gap(k);
            if l < best_key.0 || g > best_key.1 {
                best = k;
                best_key = (l, g);
            }
        }
        best
    }

    /// Call slot `cslot` got its first member: it joins the least loaded phase (command
    /// path). An idle shard restarts its grid at the next period boundary.
    pub(super) fn activate(&mut self, cslot: u32, now: Instant) {
        if self.active_calls == 0 {
            // The shard was idle: restart the tick grid instead of catching up.
            self.period_start = Some(self.align_period(now));
            self.next_phase = 0;
            self.period_open = false;
        }
        let phase = self.least_loaded_phase();
        if let Some(Some(c)) = self.calls.get_mut(cslot as usize) {
            c.phase = phase;
        }
        if let Some(list) = self.phases.get_mut(phase as usize) {
            list.push(cslot);
            self.active_calls += 1;
        }
    }

    /// Call slot `cslot` has no members any more (or ended): it leaves its phase.
    /// Returns whether it was in one.
    pub(super) fn deactivate(&mut self, cslot: u32) -> bool {
        for list in &mut self.phases {
            if let Some(i) = list.iter().position(|&c| c == cslot) {
                // Order-preserving: a phase being run walks its list by index.
                list.remove(i);
                self.active_calls = self.active_calls.saturating_sub(1);
                return true;
            }
        }
        false
    }

    /// The tick number the next tick of a call in `phase` will carry (`None`: a call
    /// without members, which ticks in a period not yet started). Periods are counted
    /// before their first phase runs, and the schedule moves past a phase before its
    /// calls run: recordings start and stop on the call's own tick boundaries, so a
    /// recording started now begins with the call's next tick and one stopped now ends
    /// before it.
    pub(super) fn next_tick_in_phase(&self, phase: Option<u32>) -> u64 {
        match phase {
            Some(k) if self.period_open && k >= self.next_phase => self.work.ticks,
            _ => self.work.ticks + 1,
        }
    }

    /// [`Engine::next_tick_in_phase`] for call slot `cslot`.
    pub(super) fn call_next_tick(&self, cslot: u32) -> u64 {
        let phase = self
            .calls
            .get(cslot as usize)
            .and_then(Option::as_ref)
            .filter(|c| !c.members.is_empty())
            .map(|c| c.phase);
        self.next_tick_in_phase(phase)
    }

    /// When call slot `cslot` mixes next (`None` for a call without members).
    pub(super) fn call_next_run(&self, cslot: u32) -> Option<Instant> {
        let start = self.period_start?;
        let c = self.calls.get(cslot as usize)?.as_ref()?;
        if c.members.is_empty() {
            return None;
        }
        let at = start + self.phase_offset(c.phase);
        Some(if c.phase >= self.next_phase {
            at
        } else {
            at + self.tick_len()
        })
    }

    fn next_due(&self) -> Option<Due> {
        if self.active_calls == 0 {
            return None;
        }
        let start = self.period_start?;
        let p = self.phase_count();
        if let Some(k) = (self.next_phase..p).find(|&k| self.phase_has_calls(k)) {
            return Some(Due {
                at: start + self.phase_offset(k),
                phase: k,
                next_period: false,
            });
        }
        let k = (0..p).find(|&k| self.phase_has_calls(k))?;
        Some(Due {
            at: start + self.tick_len() + self.phase_offset(k),
            phase: k,
            next_period: true,
        })
    }

    /// Runs every phase due at `now`, in order: each call of a due phase mixes once for
    /// that period. At most [`MAX_CATCH_UP`] overdue periods are started; later ones are
    /// skipped whole and counted ([`Engine::missed_ticks`]). Afterwards drain
    /// `poll_transmit` and `poll_event`, then ask `poll_timeout`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.handle_timeout_with(now, |_| {});
    }

    /// [`Engine::handle_timeout`], calling `after_call` after each call's tick: a driver
    /// that drains `poll_transmit` there sends a call's mixes as soon as they are
    /// encoded, so they do not wait for every other call of the phase to mix.
    pub fn handle_timeout_with(&mut self, now: Instant, mut after_call: impl FnMut(&mut Engine)) {
        let tick = self.tick_len();
        let mut opened = 0;
        while let Some(due) = self.next_due() {
            if due.at > now {
                break;
            }
            if due.next_period {
                self.period_start = self.period_start.map(|s| s + tick);
                self.next_phase = 0;
                self.period_open = false;
            }
            if !self.period_open {
                if opened == MAX_CATCH_UP {
                    // Too far behind: skip to the first period starting after `now`.
                    if let Some(mut s) = self.period_start {
                        while s <= now {
                            s += tick;
                            self.work.missed_ticks += 1;
                        }
                        self.period_start = Some(s);
                    }
                    self.next_phase = 0;
                    break;
                }
                opened += 1;
                self.period_open = true;
                self.work.ticks += 1;
            }
            // Past this phase before its calls run (see `next_tick_in_phase`).
            self.next_phase = due.phase + 1;
            let now_us = self.now_us(due.at);
            self.run_phase(due.phase, now_us, &mut after_call);
        }
        if self.active_calls == 0 {
            self.period_start = None;
            self.next_phase = 0;
            self.period_open = false;
        }
    }

    /// When `handle_timeout` should next be called: the next sub-tick boundary whose
    /// phase holds calls, or `None` when no call has members.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_due().map(|d| d.at)
    }
}
