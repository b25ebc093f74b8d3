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

#[test]
fn only_the_loudest_three_are_mixed_and_a_freed_slot_goes_to_the_next_loudest() {
    use talko_engine::sim::ClientConfig;
    let amplitudes = [8_000.0, 7_000.0, 6_000.0, 4_000.0, 2_500.0, 0.0];
    let clients = (0..6).map(|i| {
        let mut c = ClientConfig::new(i);
        c.amplitude = amplitudes[i];
        c
    });
    let mut h = Harness::with_clients(EngineConfig::default(), clients, 3).unwrap();
    for i in 0..6 {
        h.join(i).unwrap();
        h.clients[i].talking = i < 3;
    }
    h.run(WARMUP, |_, _| {});
    // The quieter two start later: they find every slot taken by clearly louder voices.
    h.clients[3].talking = true;
    h.clients[4].talking = true;
    h.run(Duration::from_millis(500), |_, _| {});
    let mut heard = Hearing::new(6);
    let d = Duration::from_secs(2);
    h.run(d, |i, pcm| heard.record(i, pcm));
    heard.assert_heard(5, &[0, 1, 2], frames(d), "loudest three");
    heard.assert_heard(3, &[0, 1, 2], frames(d), "a talker outside the three");
    heard.assert_heard(0, &[1, 2], frames(d), "a selected speaker");
    // The loudest stops: after the talk hangover its slot goes to the next loudest (3).
    h.clients[0].talking = false;
    h.run(Duration::from_millis(1_000), |_, _| {});
    let mut heard = Hearing::new(6);
    h.run(d, |i, pcm| heard.record(i, pcm));
    heard.assert_heard(5, &[1, 2, 3], frames(d), "slot handed over");
    heard.assert_heard(4, &[1, 2, 3], frames(d), "slot handed over");
}

#[test]
fn three_full_scale_talkers_are_limited_not_clipped_or_wrapped() {
    use talko_engine::sim::{tone_amplitude, tone_of, ClientConfig};
    let clients = (0..4).map(|i| {
        let mut c = ClientConfig::new(i);
        c.amplitude = if i < 3 { 30_000.0 } else { 0.0 };
        c
    });
    let mut h = Harness::with_clients(EngineConfig::default(), clients, 4).unwrap();
    for i in 0..4 {
        h.join(i).unwrap();
        h.clients[i].talking = i < 3;
    }
    h.run(Duration::from_secs(1), |_, _| {});
    let mut max_jump = 0i32;
    let mut peak = 0i32;
    let mut amps = [0f32; 3];
    let mut n = 0;
    h.run(Duration::from_secs(2), |i, pcm| {
        if i != 3 {
            return;
        }
        n += 1;
        for w in pcm.windows(2) {
            max_jump = max_jump.max((i32::from(w[1]) - i32::from(w[0])).abs());
        }
        peak = peak.max(pcm.iter().map(|&s| i32::from(s).abs()).max().unwrap_or(0));
        for (t, a) in amps.iter_mut().enumerate() {
            *a += tone_amplitude(pcm, tone_of(t)) / 100.0;
        }
    });
    assert!(n >= 95);
    // The sum of three full-scale tones would be ~90000: limited to the ceiling.
    assert!(peak < 32_767 && peak > 20_000, "peak {peak}");
    // A wrap-around would jump by tens of thousands between samples; a tone mix at
    // these frequencies moves at most ~6000 per sample.
    assert!(max_jump < 12_000, "jump of {max_jump} between samples");
    // All three voices are still there, at similar levels.
    for a in amps {
        assert!(a > 4_000.0, "{amps:?}");
    }
}

/// A talker's own tone counts as heard above this amplitude (talkers send 2000–5500;
/// a few milliseconds of one's own voice in a 20 ms frame already exceed it).
const SELF_HEARD: f32 = 600.0;

#[test]
fn talkers_rotating_through_the_speaker_slots_never_hear_themselves() {
    use talko_engine::sim::{tone_amplitude, tone_of, ClientConfig, Rng};
    use talko_engine::{Command, ParticipantId};
    // Tone indices from a Sidon set (all pairwise sums distinct): no third-order
    // intermodulation product of the mixed tones (2a-b, a+b-c) lands on a member's
    // tone, so a detected own tone is the member's own voice, not coding distortion.
    let index = [0usize, 1, 3, 7, 12, 20];
    let n = index.len();
    let clients = (0..n).map(|i| {
        let mut c = ClientConfig::new(index[i]);
        c.amplitude = 2_000.0 + 700.0 * i as f32;
        c
    });
    let mut h = Harness::with_clients(EngineConfig::default(), clients, 11).unwrap();
    for i in 0..n {
        h.join(i).unwrap();
        h.clients[i].talking = false;
    }
    h.run(WARMUP, |_, _| {});
    let mut rng = Rng::new(0x51DE);
    let mut muted = vec![false; n];
    let mut self_frames = vec![0u32; n];
    let mut loudest_self = 0f32;
    let mut checked = 0u32;
    let mut heard_others = 0u32;
    let rounds = 150;
    let mut incidents = Vec::new();
    for round in 0..rounds {
        // A new set of one to four talkers (more than the three slots: newcomers wait
        // or, when clearly louder, displace the quietest speaker), sometimes a mute.
        let talkers = 1 + (rng.next_u64() % 4) as usize;
        for c in h.clients.iter_mut() {
            c.talking = false;
        }
        for _ in 0..talkers {
            let t = (rng.next_u64() % n as u64) as usize;
            h.clients[t].talking = true;
        }
        let mute = rng
            .next_u64()
            .is_multiple_of(4)
            .then(|| (rng.next_u64() % n as u64) as usize);
        for (i, m) in muted.iter_mut().enumerate() {
            let want = mute == Some(i);
            if *m != want {
                *m = want;
                let cmd = Command::SetMute {
                    call: h.call,
                    participant: ParticipantId(i as u64),
                    muted: want,
                };
                h.engine.handle_command(h.now, cmd).unwrap();
            }
        }
        let d = Duration::from_millis(100 + 20 * (rng.next_u64() % 25));
        let talking: Vec<bool> = h.clients.iter().map(|c| c.talking).collect();
        h.run(d, |i, pcm| {
            checked += 1;
            let own = tone_amplitude(pcm, tone_of(index[i]));
            if own > SELF_HEARD {
                self_frames[i] += 1;
                if incidents.len() < 20 {
                    incidents.push((round, i, talking[i], own as u32));
                }
            }
            loudest_self = loudest_self.max(own);
            let others = index.iter().filter(|&&t| t != index[i]);
            if others
                .into_iter()
                .any(|&t| tone_amplitude(pcm, tone_of(t)) > 1_000.0)
            {
                heard_others += 1;
            }
        });
    }
    assert!(
        checked > 8 * n as u32 * rounds,
        "only {checked} frames checked"
    );
    // The mixes did carry the others' voices (silence would pass the last check).
    assert!(
        heard_others > checked / 3,
        "others heard in only {heard_others} of {checked} frames"
    );
    let talk_events = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::TalkingStarted { .. }))
        .count();
    assert!(
        talk_events > 60,
        "only {talk_events} talk starts: rotation too slow"
    );
    assert!(
        self_frames.iter().all(|&f| f == 0),
        "talkers heard their own tone in {self_frames:?} frames (loudest {loudest_self:.0}) of {checked}: {incidents:?}"
    );
}

/// The driver hands received datagrams to the engine in groups (`handle_datagrams`:
/// their SRTP tags computed together) and drains it with `poll_transmit_batch` (a
/// call's fan-out protected together); one datagram at a time (`handle_datagram`,
/// `poll_transmit`) must give the very same datagrams, byte for byte, in the same
/// order, and the same statistics: 12 participants all sending tones (the loudest three
/// mixed), AES-CM, with 2 % loss, 2 % duplicates and 30 ms of jitter (reordering) on the
/// way in.
#[test]
fn batched_and_single_io_send_identical_datagrams() {
    let run = |batched: bool| {
        let mut h = Harness::new(EngineConfig::default(), 12, 5).unwrap();
        h.batched = batched;
        h.net.up.loss = 0.02;
        h.net.up.jitter = Duration::from_millis(30);
        h.net.up.duplicate = 0.02;
        h.sent_bytes = Some(Vec::with_capacity(20_000));
        for i in 0..12 {
            h.join(i).unwrap();
        }
        h.run(Duration::from_secs(2), |_, _| {});
        (h.sent_bytes.take().unwrap(), h.engine.drop_counters())
    };
    let (batched, batched_drops) = run(true);
    let (single, single_drops) = run(false);
    assert!(batched.len() > 12 * 80, "{} datagrams", batched.len());
    assert_eq!(batched.len(), single.len());
    for (i, (a, b)) in batched.iter().zip(single.iter()).enumerate() {
        assert_eq!(a, b, "datagram {i}");
    }
    assert_eq!(batched_drops, single_drops);
}
