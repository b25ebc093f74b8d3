//! One sub-tick phase run of [`Engine`]: every call of the phase ticks (once per
//! period), each inside its own panic guard, then its RTCP reports and stats fall due;
//! after each call the caller's hook may drain that call's output.
//!
//! Must never allocate, read the clock, or let one call's panic reach another.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use super::Engine;
use crate::call::{self, Call, TickCtx};
use crate::events::{DropReason, EndReason, Event, EventQueue};
use crate::participant::Participant;
use crate::tx::{Pending, TxQueue};

impl Engine {
    /// Runs the calls of `phase` for the current period (`work.ticks`, already counted).
    pub(super) fn run_phase(
        &mut self,
        phase: u32,
        now_us: i64,
        after_call: &mut impl FnMut(&mut Engine),
    ) {
        self.work.phase_runs += 1;
        let period = self.work.ticks;
        // Media of this phase's calls still queued is from their previous period.
        let calls = &self.calls;
        self.tx.drop_stale_media(|c| {
            calls
                .get(c as usize)
                .and_then(Option::as_ref)
                .is_some_and(|c| c.phase == phase)
        });
        let mut i = 0;
        while let Some(&cslot) = self.phases.get(phase as usize).and_then(|l| l.get(i)) {
            i += 1;
            let Some(Some(call)) = self.calls.get_mut(cslot as usize) else {
                continue;
            };
            if call.last_period == period {
                // Left and rejoined within this period: it already mixed for it.
                continue;
            }
            call.last_period = period;
            let parts = &mut self.parts;
            let events = &mut self.events;
            let tx = &mut self.tx;
            let recorder = self.recorder.as_mut().filter(|_| call.recording);
            let tick_no = period;
            let mixed = &mut self.mixed;
            mixed.clear();
            let result = catch_unwind(AssertUnwindSafe(|| {
                call::tick(
                    call,
                    TickCtx {
                        parts,
                        events,
                        tx,
                        recorder,
                        tick: tick_no,
                        work: &mut self.work,
                        call_slot: cslot,
                        now_us,
                        mixed,
                    },
                );
                Self::rtcp_due(call, parts, events, tx, now_us, self.cfg.rtcp_interval);
            }));
            match result {
                Ok(()) => {}
                Err(_) => {
                    self.end_call(cslot, EndReason::Panicked, now_us);
                    // The phase lost this entry: the next call moved into index i-1.
                    i -= 1;
                }
            }
            after_call(self);
        }
        self.drops_from_queues();
    }

    pub(super) fn drops_from_queues(&mut self) {
        let lost = self.tx.dropped + self.events.dropped;
        self.drops.count_n(DropReason::QueueFull, lost);
        self.tx.dropped = 0;
        self.events.dropped = 0;
    }

    pub(super) fn rtcp_due(
        call: &mut Call,
        parts: &mut [Option<Participant>],
        events: &mut EventQueue,
        tx: &mut TxQueue,
        now_us: i64,
        interval: Duration,
    ) {
        let interval = i64::try_from(interval.as_micros()).unwrap_or(5_000_000);
        for &m in call.members.iter() {
            let Some(Some(p)) = parts.get_mut(m as usize) else {
                continue;
            };
            if now_us < p.next_rtcp_us {
                continue;
            }
            p.next_rtcp_us = now_us + interval;
            p.stats.lost_in = p.rx.cumulative_lost();
            p.stats.jitter_in_ms = p.rx.jitter() as f32 / 48.0;
            events.push(Event::Stats {
                call: call.id,
                participant: p.id,
                stats: p.stats,
            });
            if let Some(to) = p.addr {
                tx.push(Pending::Rtcp {
                    part: m,
                    to,
                    at_us: now_us,
                    rtp_ts: p
                        .out_ts_base
                        .wrapping_add((call.ticks as u32).wrapping_mul(960)),
                });
            }
        }
    }
}
