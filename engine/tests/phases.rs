//! Sub-tick phases on the virtual clock: the calls of a shard mix at distinct instants
//! of the 20 ms period (each in its own phase, spread over the period), each exactly
//! once per period; a call that gets its first member later takes the least loaded
//! phase; one phase is the
//! shard-wide tick of before; a late engine catches up per period without running a
//! call twice in one.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Hearing;
use talko_engine::sim::Harness;
use talko_engine::{CallId, EngineConfig};

const PERIOD_US: i64 = 20_000;

fn config(tick_phases: u32) -> EngineConfig {
    EngineConfig {
        tick_phases,
        ..EngineConfig::default()
    }
}

/// Puts clients `members` in `call` (created first unless it is the harness's call).
fn join(h: &mut Harness, call: CallId, members: &[usize]) {
    if call != h.call {
        h.create_call(call).unwrap();
    }
    for &i in members {
        h.join_call(i, call).unwrap();
    }
}

/// The distinct instants (µs since the start) at which the engine sent to client `i`.
fn send_instants(h: &Harness, i: usize) -> Vec<i64> {
    let to = h.clients[i].addr;
    let set: BTreeSet<i64> = h
        .sends
        .as_ref()
        .expect("sends logged")
        .iter()
        .filter(|(_, a)| *a == to)
        .map(|(t, _)| *t)
        .collect();
    set.into_iter().collect()
}

/// Asserts that client `i` got its mixes at `offset_us` into every period of the log
/// (one instant per period, consecutive instants one period apart), at least `min`
/// times.
fn assert_once_per_period_at(h: &Harness, i: usize, offset_us: i64, min: usize) {
    let t = send_instants(h, i);
    assert!(t.len() >= min, "client {i}: {} send instants", t.len());
    for at in &t {
        assert_eq!(
            at.rem_euclid(PERIOD_US),
            offset_us,
            "client {i}: a send at {at} µs is off its phase"
        );
    }
    for w in t.windows(2) {
        assert_eq!(
            w[1] - w[0],
            PERIOD_US,
            "client {i}: sends at {} and {} µs are not one period apart",
            w[0],
            w[1]
        );
    }
}

#[test]
fn calls_mix_in_distinct_phases_each_once_per_period() {
    // Ten phases of 2 ms; five calls of two talkers each.
    let mut h = Harness::new(config(10), 10, 31).unwrap();
    for c in 0..5 {
        join(&mut h, CallId(c as u64 + 1), &[2 * c, 2 * c + 1]);
    }
    h.run(Duration::from_secs(1), |_, _| {});
    let before = h.engine.work_counters();
    h.log_sends(20_000);
    let d = Duration::from_secs(2);
    let mut heard = Hearing::new(10);
    h.run(d, |i, pcm| heard.record(i, pcm));
    let after = h.engine.work_counters();

    let periods = after.ticks - before.ticks;
    assert!((99..=101).contains(&periods), "{periods} periods in 2 s");
    assert_eq!(
        after.phase_runs - before.phase_runs,
        5 * periods,
        "five phases hold calls"
    );
    assert_eq!(after.missed_ticks, 0);
    // Equal loads: each call takes the free phase farthest from the occupied ones
    // (the earliest of those): phases 0, 5, 2, 7, 1.
    let expected = [0, 10_000, 4_000, 14_000, 2_000];
    let mut offsets = BTreeSet::new();
    for (c, &offset) in expected.iter().enumerate() {
        for i in [2 * c, 2 * c + 1] {
            assert_once_per_period_at(&h, i, offset, 99);
        }
        offsets.insert(send_instants(&h, 2 * c)[0].rem_euclid(PERIOD_US));
    }
    assert_eq!(offsets.len(), 5, "each call in its own sub-tick instant");
    // Every call still carries its audio.
    let frames = (d.as_millis() / 20) as u32;
    for c in 0..5 {
        heard.assert_heard(2 * c, &[2 * c + 1], frames, "phased call");
        heard.assert_heard(2 * c + 1, &[2 * c], frames, "phased call");
    }
}

#[test]
fn a_call_starting_later_takes_the_least_loaded_phase() {
    // Four phases of 5 ms. Call 1 has three members, calls 2–4 two each: one per phase
    // (calls 1–4 in phases 0, 2, 1, 3: each the free phase farthest from the others).
    let mut h = Harness::new(config(4), 13, 32).unwrap();
    join(&mut h, CallId(1), &[0, 1, 2]);
    join(&mut h, CallId(2), &[3, 4]);
    join(&mut h, CallId(3), &[5, 6]);
    join(&mut h, CallId(4), &[7, 8]);
    h.run(Duration::from_millis(500), |_, _| {});
    // Call 2 empties: its phase (2) is free; a call starting 207 ms later, in the middle
    // of a period, takes it.
    h.leave(3).unwrap();
    h.leave(4).unwrap();
    h.run(Duration::from_millis(207), |_, _| {});
    join(&mut h, CallId(5), &[9, 10]);
    h.log_sends(20_000);
    h.run(Duration::from_millis(500), |_, _| {});
    assert_once_per_period_at(&h, 9, 10_000, 20);
    assert_once_per_period_at(&h, 10, 10_000, 20);
    assert!(
        send_instants(&h, 3).is_empty(),
        "a client that left gets nothing"
    );
    // Now every phase holds one call; phase 0 the only one with three members. Equal
    // call counts are broken by members: call 6 goes to the earliest two-member phase.
    join(&mut h, CallId(6), &[11, 12]);
    h.log_sends(20_000);
    h.run(Duration::from_millis(500), |_, _| {});
    assert_once_per_period_at(&h, 11, 5_000, 20);
    assert_once_per_period_at(&h, 0, 0, 20);
    assert_once_per_period_at(&h, 5, 5_000, 20);
    assert_once_per_period_at(&h, 7, 15_000, 20);
    assert_once_per_period_at(&h, 9, 10_000, 20);
    assert_eq!(h.engine.missed_ticks(), 0);
}

#[test]
fn one_phase_ticks_every_call_on_the_period_boundary() {
    let mut h = Harness::new(config(1), 6, 33).unwrap();
    for c in 0..3 {
        join(&mut h, CallId(c as u64 + 1), &[2 * c, 2 * c + 1]);
    }
    h.run(Duration::from_secs(1), |_, _| {});
    let before = h.engine.work_counters();
    h.log_sends(10_000);
    h.run(Duration::from_secs(1), |_, _| {});
    let after = h.engine.work_counters();
    assert_eq!(
        after.phase_runs - before.phase_runs,
        after.ticks - before.ticks,
        "one phase run per period"
    );
    for i in 0..6 {
        assert_once_per_period_at(&h, i, 0, 49);
    }
    // The next timeout is always a period boundary.
    let next = h.engine.poll_timeout().expect("ticking");
    let t = h.now;
    h.run(Duration::from_millis(1), |_, _| {});
    assert!(next > t && next <= t + Duration::from_millis(20));
}

#[test]
fn a_late_engine_catches_up_whole_periods_and_never_runs_a_call_twice_in_one() {
    let mut h = Harness::new(config(10), 4, 34).unwrap();
    join(&mut h, CallId(1), &[0, 1]);
    join(&mut h, CallId(2), &[2, 3]);
    // The first period starts 20 ms in; call 1 mixes at 20 + 20n ms (phase 0), call 2
    // at 30 + 20n (phase 5).
    h.run(Duration::from_millis(1_010), |_, _| {});
    let base = h.now - Duration::from_millis(1_010);
    assert_eq!(
        h.engine.poll_timeout(),
        Some(base + Duration::from_millis(1_020))
    );
    let before = h.engine.work_counters();
    // Woken 100 ms late: the periods at 1020, 1040 and 1060 ms run (both calls once
    // each); 1080, 1100 and 1120 are skipped and counted; the grid resumes at 1140.
    h.engine
        .handle_timeout(base + Duration::from_millis(1_120) + Duration::from_micros(500));
    let after = h.engine.work_counters();
    assert_eq!(after.ticks - before.ticks, 3);
    assert_eq!(after.phase_runs - before.phase_runs, 6);
    assert_eq!(after.missed_ticks - before.missed_ticks, 3);
    assert_eq!(
        h.engine.poll_timeout(),
        Some(base + Duration::from_millis(1_140))
    );
    // Back on time, nothing more is missed and both phases run every period.
    h.now = base + Duration::from_millis(1_121);
    let before = h.engine.work_counters();
    h.run(Duration::from_millis(410), |_, _| {}); // to 1531 ms
    let after = h.engine.work_counters();
    assert_eq!(after.missed_ticks, before.missed_ticks);
    assert_eq!(after.ticks - before.ticks, 20);
    assert_eq!(after.phase_runs - before.phase_runs, 40);
}
