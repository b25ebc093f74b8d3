//! Deterministic end-to-end mixing tests on a virtual clock: simulated clients send
//! distinct Opus tones over SRTP through an in-process network; a Goertzel detector
//! checks that each hears every other talker and never itself.

mod common;

use std::time::Duration;

use common::Hearing;
use talko_engine::sim::Harness;
use talko_engine::{EngineConfig, Event};

const WARMUP: Duration = Duration::from_millis(600);

fn frames(d: Duration) -> u32 {
    (d.as_millis() / 20) as u32
}

#[test]
fn two_participants_hear_each_other_and_never_themselves() {
    let mut h = Harness::new(EngineConfig::default(), 2, 1).unwrap();
    h.join(0).unwrap();
    h.join(1).unwrap();
    h.run(WARMUP, |_, _| {});
    let mut heard = Hearing::new(2);
    let d = Duration::from_secs(3);
    h.run(d, |i, pcm| heard.record(i, pcm));
    heard.assert_heard(0, &[1], frames(d), "2 talkers");
    heard.assert_heard(1, &[0], frames(d), "2 talkers");
    let started = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::MediaStarted { .. }))
        .count();
    assert_eq!(started, 2);
    let talking = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::TalkingStarted { .. }))
        .count();
    assert_eq!(talking, 2);
}

#[test]
fn ten_participants_each_hear_every_other_and_never_themselves() {
    let n = 10;
    let mut h = Harness::new(EngineConfig::default(), n, 2).unwrap();
    for i in 0..n {
        h.join(i).unwrap();
        h.clients[i].talking = false;
    }
    h.run(WARMUP, |_, _| {});
    // Window k: clients k and k+1 talk. Listener l must hear exactly {k, k+1} \ {l}.
    let window = Duration::from_millis(1_500);
    let settle = Duration::from_millis(700);
    for k in 0..n {
        let talkers = [k, (k + 1) % n];
        for (i, c) in h.clients.iter_mut().enumerate() {
            c.talking = talkers.contains(&i);
        }
        h.run(settle, |_, _| {});
        let mut heard = Hearing::new(n);
        h.run(window - settle, |i, pcm| heard.record(i, pcm));
        for l in 0..n {
            let expected: Vec<usize> = talkers.iter().copied().filter(|&t| t != l).collect();
            heard.assert_heard(
                l,
                &expected,
                frames(window - settle),
                &format!("window {k}"),
            );
        }
    }
}
