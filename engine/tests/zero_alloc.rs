//! Zero allocation in steady state: a 10-participant call with 3 talkers, real SRTP and
//! Opus both ways, through `handle_datagram`/`handle_timeout`/`poll_transmit` on a
//! virtual clock, for more than 5,000 ticks after warm-up, allocates and frees nothing
//! on the media thread (here: the test thread, which also runs the simulated clients and
//! network — they must not allocate either).

use std::time::Duration;

use talko_codecs::testing::{thread_counts, CountingAlloc};
use talko_engine::sim::{tone_amplitude, tone_of, Harness};
use talko_engine::EngineConfig;

#[global_allocator]
static A: CountingAlloc = CountingAlloc;

#[test]
fn ten_participant_call_with_three_talkers_allocates_nothing_for_5000_ticks() {
    let n = 10;
    let mut h = Harness::new(EngineConfig::default(), n, 42).unwrap();
    for i in 0..n {
        h.join(i).unwrap();
        h.clients[i].talking = i < 3;
    }
    // Some loss, jitter and duplication so FEC, PLC, reordering and replay drops run too.
    h.net.up.jitter = Duration::from_millis(15);
    h.net.up.loss = 0.02;
    h.net.up.duplicate = 0.01;
    h.net.down.jitter = Duration::from_millis(5);
    h.run(Duration::from_secs(6), |_, _| {});
    h.events.clear();

    let ticks_before = h.engine.ticks();
    let mut heard_talker = 0u64;
    let mut frames = 0u64;
    let before = thread_counts();
    h.run(Duration::from_secs(101), |i, pcm| {
        frames += 1;
        // A listener that is not talking hears talker 0.
        if i >= 3 && tone_amplitude(pcm, tone_of(0)) > 1_000.0 {
            heard_talker += 1;
        }
    });
    let used = thread_counts().since(before);
    let ticks = h.engine.ticks() - ticks_before;

    assert!(ticks >= 5_000, "only {ticks} ticks");
    assert_eq!(used.allocs, 0, "allocations in steady state: {used:?}");
    assert_eq!(used.frees, 0, "frees in steady state: {used:?}");
    // The run did real work: 7 listeners heard talker 0 most of the time.
    assert!(frames > 9 * 5_000, "frames played: {frames}");
    assert!(
        heard_talker > 7 * 4_500,
        "frames with talker 0: {heard_talker}"
    );
    let drops = h.engine.drop_counters();
    assert!(drops.total() > 0, "duplicates were dropped and counted");
}
