//! The call under network trouble and membership changes, on the virtual clock: 10 %
//! loss with FEC, 60 ms of jitter (reordering), duplication, sequence-number and
//! timestamp wrap, a late joiner and a participant leaving mid-call.

mod common;

use std::time::Duration;

use common::Hearing;
use talko_engine::sim::{ClientConfig, Harness};
use talko_engine::{EngineConfig, Event, ParticipantId};

fn frames(d: Duration) -> u32 {
    (d.as_millis() / 20) as u32
}

fn three_talkers(seed: u64, clients: impl IntoIterator<Item = ClientConfig>) -> Harness {
    let mut h = Harness::with_clients(EngineConfig::default(), clients, seed).unwrap();
    for i in 0..h.clients.len() {
        h.join(i).unwrap();
    }
    h
}

#[test]
fn ten_percent_loss_is_repaired_with_fec_and_everyone_still_hears_everyone() {
    let mut h = three_talkers(11, (0..3).map(ClientConfig::new));
    h.net.up.loss = 0.10;
    h.net.down.loss = 0.10;
    h.run(Duration::from_secs(1), |_, _| {});
    let mut heard = Hearing::new(3);
    let d = Duration::from_secs(6);
    h.run(d, |i, pcm| heard.record(i, pcm));
    for l in 0..3 {
        let others: Vec<usize> = (0..3).filter(|&t| t != l).collect();
        heard.assert_heard(l, &others, frames(d), "10 % loss");
    }
    let mut fec = 0;
    for i in 0..3 {
        let s = h
            .engine
            .participant_stats(h.call, ParticipantId(i as u64))
            .unwrap();
        fec += s.fec_frames;
        assert!(s.lost_in > 0 || s.plc_frames + s.fec_frames > 0);
    }
    assert!(fec > 50, "FEC rebuilt only {fec} frames");
    assert!(h.clients.iter().map(|c| c.stats.fec).sum::<u64>() > 50);
}

#[test]
fn arrival_scatter_that_never_crosses_a_tick_gets_no_playout_slack() {
    // 10–15 ms of delay (5 ms of arrival jitter) with the clients' send phases 0–3.4 ms
    // after the tick grid: every packet still arrives between the same two ticks, so
    // each is played at the first tick after it arrives. The target is the frame
    // itself, 20 ms, with no extra frame of buffering for the 5 ms of scatter.
    let mut h = three_talkers(14, (0..3).map(ClientConfig::new));
    h.net.up.jitter = Duration::from_millis(5);
    h.run(Duration::from_secs(4), |_, _| {});
    for i in 0..3 {
        let s = h
            .engine
            .participant_stats(h.call, ParticipantId(i))
            .unwrap();
        assert_eq!(s.jitter_target_ms, 20, "participant {i}");
        assert_eq!(s.accelerated_frames, 0, "participant {i}");
        assert!(s.decoded_frames > 150, "participant {i}: {s:?}");
    }
}

#[test]
fn sixty_ms_of_jitter_with_reordering_and_duplicates_is_absorbed() {
    let mut h = three_talkers(12, (0..3).map(ClientConfig::new));
    h.net.up.jitter = Duration::from_millis(60);
    h.net.up.duplicate = 0.05;
    h.net.down.jitter = Duration::from_millis(60);
    h.run(Duration::from_secs(3), |_, _| {});
    let mut heard = Hearing::new(3);
    let d = Duration::from_secs(6);
    h.run(d, |i, pcm| heard.record(i, pcm));
    for l in 0..3 {
        let others: Vec<usize> = (0..3).filter(|&t| t != l).collect();
        heard.assert_heard(l, &others, frames(d), "60 ms jitter");
    }
    let s = h
        .engine
        .participant_stats(h.call, ParticipantId(0))
        .unwrap();
    assert!(s.jitter_target_ms >= 50, "target {} ms", s.jitter_target_ms);
    assert!(s.jitter_target_ms <= 200);
    assert!(
        s.drops.get(talko_engine::DropReason::Replayed) > 0,
        "duplicates are dropped"
    );
    // Jitter stops: the target comes back to at most 40 ms within 5 s.
    h.net.up.jitter = Duration::ZERO;
    h.run(Duration::from_secs(5), |_, _| {});
    let s = h
        .engine
        .participant_stats(h.call, ParticipantId(0))
        .unwrap();
    assert!(s.jitter_target_ms <= 40, "target {} ms", s.jitter_target_ms);
}

#[test]
fn sequence_and_timestamp_wrap_do_not_interrupt_audio() {
    // Every client wraps both its sequence number and its timestamp about 1 s in.
    let clients = (0..3).map(|i| {
        let mut c = ClientConfig::new(i);
        c.seq_start = u16::MAX - 49 - i as u16;
        c.ts_start = u32::MAX - 50 * 960 + 17;
        c
    });
    let mut h = three_talkers(13, clients);
    h.net.up.jitter = Duration::from_millis(20);
    h.run(Duration::from_millis(600), |_, _| {});
    let mut heard = Hearing::new(3);
    let d = Duration::from_secs(2);
    h.run(d, |i, pcm| heard.record(i, pcm));
    for l in 0..3 {
        let others: Vec<usize> = (0..3).filter(|&t| t != l).collect();
        heard.assert_heard(l, &others, frames(d), "wrap");
    }
    let s = h
        .engine
        .participant_stats(h.call, ParticipantId(1))
        .unwrap();
    assert_eq!(s.lost_in, 0);
    assert_eq!(s.plc_frames, 0);
}

#[test]
fn a_late_joiner_hears_the_call_and_is_heard() {
    let mut h = Harness::new(EngineConfig::default(), 3, 14).unwrap();
    h.join(0).unwrap();
    h.join(1).unwrap();
    h.run(Duration::from_secs(2), |_, _| {});
    h.join(2).unwrap();
    h.run(Duration::from_millis(700), |_, _| {});
    let mut heard = Hearing::new(3);
    let d = Duration::from_secs(2);
    h.run(d, |i, pcm| heard.record(i, pcm));
    heard.assert_heard(2, &[0, 1], frames(d), "late joiner");
    heard.assert_heard(0, &[1, 2], frames(d), "late joiner");
}

#[test]
fn a_participant_leaving_mid_call_is_no_longer_heard_and_gets_nothing() {
    let mut h = Harness::new(EngineConfig::default(), 3, 15).unwrap();
    for i in 0..3 {
        h.join(i).unwrap();
    }
    h.run(Duration::from_secs(1), |_, _| {});
    h.leave(2).unwrap();
    // The client does not notice and keeps sending.
    h.joined[2] = true;
    let received = h.clients[2].stats.received;
    h.run(Duration::from_millis(500), |_, _| {});
    let mut heard = Hearing::new(3);
    let d = Duration::from_secs(2);
    h.run(d, |i, pcm| heard.record(i, pcm));
    heard.assert_heard(0, &[1], frames(d), "after leave");
    heard.assert_heard(1, &[0], frames(d), "after leave");
    // At most what was in flight when it left.
    assert!(h.clients[2].stats.received <= received + 5);
    // Its packets are now an unknown SSRC.
    assert!(
        h.engine
            .drop_counters()
            .get(talko_engine::DropReason::UnknownSsrc)
            > 50
    );
    assert!(h
        .events
        .iter()
        .all(|e| !matches!(e, Event::CallEnded { .. })));
}

#[test]
fn dtx_senders_take_turns_without_loss_being_reported() {
    let clients = (0..3).map(|i| {
        let mut c = ClientConfig::new(i);
        c.dtx = true;
        c
    });
    let mut h = three_talkers(16, clients);
    h.net.up.jitter = Duration::from_millis(20);
    // Talk spurts of 1.5 s separated by DTX silence, each client in turn.
    for round in 0..6 {
        let talker = round % 3;
        for (i, c) in h.clients.iter_mut().enumerate() {
            c.talking = i == talker;
        }
        h.run(Duration::from_millis(700), |_, _| {});
        let mut heard = Hearing::new(3);
        let d = Duration::from_millis(800);
        h.run(d, |i, pcm| heard.record(i, pcm));
        for l in 0..3 {
            let expected: Vec<usize> = [talker].into_iter().filter(|&t| t != l).collect();
            heard.assert_heard(l, &expected, frames(d), &format!("DTX round {round}"));
        }
    }
    for i in 0..3 {
        let s = h
            .engine
            .participant_stats(h.call, ParticipantId(i as u64))
            .unwrap();
        assert_eq!(s.lost_in, 0, "DTX gaps are not loss");
        assert!(s.plc_frames < 20, "{} concealed frames", s.plc_frames);
    }
    // Each client started and stopped talking twice (rounds k and k + 3).
    for i in 0..3u64 {
        let count = |want: fn(&Event) -> bool| {
            h.events
                .iter()
                .filter(|e| want(e))
                .filter(|e| match e {
                    Event::TalkingStarted { participant, .. }
                    | Event::TalkingStopped { participant, .. } => participant.0 == i,
                    _ => false,
                })
                .count()
        };
        assert_eq!(count(|e| matches!(e, Event::TalkingStarted { .. })), 2);
        assert!(count(|e| matches!(e, Event::TalkingStopped { .. })) >= 1);
    }
    let sent: u64 = h.clients.iter().map(|c| c.stats.sent).sum();
    assert!(
        sent < 3 * 450 / 2,
        "DTX suppressed silence: {sent} packets sent"
    );
}
