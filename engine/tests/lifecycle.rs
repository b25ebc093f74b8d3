//! Calls and participants over their life: commands and their errors, per-call crash
//! isolation, idle cost (an empty call never ticks, a silent call neither decodes nor
//! encodes), mute and gain, RTCP reports turned into stats, ICE-lite checks.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::Hearing;
use talko_codecs::stun::{Class, Method, StunMessage, StunWriter};
use talko_engine::sim::{tone_amplitude, tone_of, ClientConfig, Harness, SimClient};
use talko_engine::{
    CallId, Command, DropReason, EndReason, Engine, EngineConfig, EngineError, Event,
    IceCredentials, ParticipantId,
};

fn frames(d: Duration) -> u32 {
    (d.as_millis() / 20) as u32
}

#[test]
fn commands_report_unknown_duplicate_and_exhausted_resources() {
    let mut h = Harness::new(
        EngineConfig {
            max_calls: 2,
            max_participants: 2,
            ..EngineConfig::default()
        },
        3,
        1,
    )
    .unwrap();
    let now = h.now;
    let e = &mut h.engine;
    assert_eq!(
        e.handle_command(now, Command::CreateCall { call: CallId(1) }),
        Err(EngineError::CallExists)
    );
    e.handle_command(now, Command::CreateCall { call: CallId(2) })
        .unwrap();
    assert_eq!(
        e.handle_command(now, Command::CreateCall { call: CallId(3) }),
        Err(EngineError::TooManyCalls)
    );
    assert_eq!(
        e.handle_command(now, Command::EndCall { call: CallId(9) }),
        Err(EngineError::UnknownCall)
    );
    h.join(0).unwrap();
    assert_eq!(h.join(0), Err(EngineError::ParticipantExists));
    let mut dup_ssrc = h.clients[0].spec(None);
    dup_ssrc.ssrc_out = 5;
    assert_eq!(
        h.engine.handle_command(
            h.now,
            Command::AddParticipant {
                call: CallId(2),
                participant: ParticipantId(7),
                spec: dup_ssrc
            }
        ),
        Err(EngineError::SsrcInUse)
    );
    h.join(1).unwrap();
    assert_eq!(h.join(2), Err(EngineError::TooManyParticipants));
    let mut bad_key = h.clients[2].spec(None);
    bad_key.srtp_in.master_key.truncate(5);
    h.leave(1).unwrap();
    assert!(matches!(
        h.engine.handle_command(
            h.now,
            Command::AddParticipant {
                call: CallId(1),
                participant: ParticipantId(2),
                spec: bad_key
            }
        ),
        Err(EngineError::Srtp(_))
    ));
    assert_eq!(
        h.engine.handle_command(
            h.now,
            Command::SetMute {
                call: CallId(1),
                participant: ParticipantId(1),
                muted: true
            }
        ),
        Err(EngineError::UnknownParticipant)
    );
    // Slots come back: ending the call frees its participant slots.
    h.engine
        .handle_command(h.now, Command::EndCall { call: CallId(1) })
        .unwrap();
    assert!(matches!(
        h.engine.poll_event(),
        Some(Event::CallEnded {
            call: CallId(1),
            reason: EndReason::Ended
        })
    ));
    assert_eq!(h.engine.participant_count(), 0);
    assert_eq!(h.engine.poll_timeout(), None);
}

#[test]
fn a_panic_in_one_call_ends_that_call_and_the_other_goes_on() {
    let mut h = Harness::new(EngineConfig::default(), 4, 3).unwrap();
    // Call 1: clients 0, 1 (the harness call). Call 2: clients 2, 3.
    h.join(0).unwrap();
    h.join(1).unwrap();
    let now = h.now;
    h.engine
        .handle_command(now, Command::CreateCall { call: CallId(2) })
        .unwrap();
    for i in 2..4 {
        let spec = h.clients[i].spec(None);
        h.engine
            .handle_command(
                now,
                Command::AddParticipant {
                    call: CallId(2),
                    participant: ParticipantId(i as u64),
                    spec,
                },
            )
            .unwrap();
        h.joined[i] = true;
    }
    h.run(Duration::from_secs(1), |_, _| {});
    h.engine
        .handle_command(h.now, Command::InjectPanic { call: CallId(1) })
        .unwrap();
    h.run(Duration::from_millis(600), |_, _| {});
    assert!(h.events.contains(&Event::CallEnded {
        call: CallId(1),
        reason: EndReason::Panicked
    }));
    assert_eq!(h.engine.call_count(), 1);
    let mut heard = Hearing::new(4);
    let d = Duration::from_secs(2);
    h.run(d, |i, pcm| heard.record(i, pcm));
    heard.assert_heard(2, &[3], frames(d), "surviving call");
    heard.assert_heard(3, &[2], frames(d), "surviving call");
    assert_eq!(heard.frames[0], 0, "the crashed call sends nothing");
    // Its participants' packets are now unknown.
    assert!(h.engine.drop_counters().get(DropReason::UnknownSsrc) > 0);
}

#[test]
fn an_empty_call_never_ticks_and_needs_no_timeout() {
    let start = Harness::new(EngineConfig::default(), 0, 1).unwrap().now;
    let mut e = Engine::new(EngineConfig {
        max_calls: 10_000,
        ..EngineConfig::default()
    });
    for c in 0..10_000 {
        e.handle_command(start, Command::CreateCall { call: CallId(c) })
            .unwrap();
    }
    assert_eq!(e.poll_timeout(), None);
    e.handle_timeout(start + Duration::from_secs(10));
    assert_eq!(e.ticks(), 0);
    let mut buf = [0u8; 1500];
    assert!(e.poll_transmit(&mut buf).is_none());
    assert!(e.poll_event().is_none());
}

#[test]
fn a_silent_call_decodes_and_encodes_nothing_and_sends_nothing() {
    let mut h = Harness::new(EngineConfig::default(), 5, 4).unwrap();
    for i in 0..5 {
        h.join(i).unwrap();
        h.clients[i].talking = false;
    }
    h.run(Duration::from_secs(1), |_, _| {});
    let before = h.engine.work_counters();
    h.run(Duration::from_secs(3), |_, _| {});
    let after = h.engine.work_counters();
    assert!(after.ticks - before.ticks >= 149);
    assert_eq!(after.decodes, before.decodes, "silent senders were decoded");
    assert_eq!(after.encodes, before.encodes, "silence was encoded");
    assert_eq!(after.packets_out, before.packets_out);
    // One talker: one shared encode per tick, and no mix-minus for a lone speaker.
    h.clients[0].talking = true;
    h.run(Duration::from_secs(1), |_, _| {});
    let a = h.engine.work_counters();
    h.run(Duration::from_secs(2), |_, _| {});
    let b = h.engine.work_counters();
    let ticks = b.ticks - a.ticks;
    assert_eq!(b.encodes - a.encodes, ticks, "one encode per tick");
    assert!(
        b.decodes - a.decodes <= ticks + 2,
        "only the talker is decoded"
    );
    assert_eq!(b.packets_out - a.packets_out, 4 * ticks, "four listeners");
}

#[test]
fn a_muted_participant_is_not_heard_and_gain_scales_a_voice() {
    let mut h = Harness::new(EngineConfig::default(), 3, 6).unwrap();
    for i in 0..3 {
        h.join(i).unwrap();
    }
    h.clients[2].talking = false;
    let call = h.call;
    h.engine
        .handle_command(
            h.now,
            Command::SetMute {
                call,
                participant: ParticipantId(0),
                muted: true,
            },
        )
        .unwrap();
    h.engine
        .handle_command(
            h.now,
            Command::SetGain {
                call,
                participant: ParticipantId(1),
                gain_db: -12.0,
            },
        )
        .unwrap();
    h.run(Duration::from_secs(1), |_, _| {});
    let mut amp = [0f32; 2];
    let mut n = 0;
    h.run(Duration::from_secs(2), |i, pcm| {
        if i == 2 {
            amp[0] = amp[0].max(tone_amplitude(pcm, tone_of(0)));
            amp[1] += tone_amplitude(pcm, tone_of(1));
            n += 1;
        }
    });
    assert!(amp[0] < 300.0, "muted participant heard at {}", amp[0]);
    // -12 dB: a quarter of 6000.
    let mean = amp[1] / n as f32;
    assert!(
        (1_100.0..1_900.0).contains(&mean),
        "gain -12 dB gave {mean}"
    );
}

#[test]
fn rtcp_reports_flow_both_ways_and_become_stats() {
    let mut h = Harness::new(EngineConfig::default(), 2, 8).unwrap();
    h.join(0).unwrap();
    h.join(1).unwrap();
    h.net.up.loss = 0.05;
    // The first report comes within 2.5–7.5 s (spread by SSRC), then every 5 s.
    h.run(Duration::from_secs(13), |_, _| {});
    // The engine sent reports (about every 5 s) to each client.
    for c in &h.clients {
        assert!((2..=3).contains(&c.stats.rtcp), "{} reports", c.stats.rtcp);
    }
    let stats: Vec<_> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Stats {
                participant, stats, ..
            } => Some((*participant, *stats)),
            _ => None,
        })
        .collect();
    assert!(stats.len() >= 4);
    let (_, last) = stats
        .iter()
        .rev()
        .find(|(p, _)| *p == ParticipantId(0))
        .unwrap();
    assert!(last.packets_in > 400);
    assert!(last.packets_out > 400);
    assert!(last.lost_in > 5, "5 % loss shows: {}", last.lost_in);
}

#[test]
fn clients_reports_give_loss_jitter_and_rtt() {
    let mut h = Harness::new(EngineConfig::default(), 2, 10).unwrap();
    h.join(0).unwrap();
    h.join(1).unwrap();
    // 10 ms each way: the clients' reports echo the engine's SRs, RTT is 20 ms.
    h.run(Duration::from_secs(16), |_, _| {});
    let s = h
        .engine
        .participant_stats(h.call, ParticipantId(1))
        .unwrap();
    let rtt = s.rtt_ms.expect("an RTT from the echoed SR");
    assert!((19.0..23.0).contains(&rtt), "rtt {rtt} ms");
    // A report with loss and jitter figures.
    let mut buf = [0u8; 1500];
    let n = h.clients[0]
        .write_receiver_report(&mut buf, 0, 0, 25, 10, 480)
        .unwrap();
    let from = h.clients[0].addr;
    h.inject(from, &buf[..n]);
    h.run(Duration::from_millis(100), |_, _| {});
    let s = h
        .engine
        .participant_stats(h.call, ParticipantId(0))
        .unwrap();
    assert!((s.remote_fraction_lost - 25.0 / 256.0).abs() < 1e-3);
    assert_eq!(s.remote_lost, 10);
    assert!((s.remote_jitter_ms - 10.0).abs() < 0.01);
    assert_eq!(s.drops.total(), 0);
}

fn ice_engine() -> (Engine, Instant, SocketAddr) {
    let now = Harness::new(EngineConfig::default(), 0, 1).unwrap().now;
    let mut e = Engine::new(EngineConfig::default());
    e.handle_command(now, Command::CreateCall { call: CallId(1) })
        .unwrap();
    let c = SimClient::new(ClientConfig::new(0)).unwrap();
    let mut spec = c.spec(None);
    spec.ice = Some(IceCredentials {
        local_ufrag: "srv1".into(),
        local_pwd: "server-password-22chars".into(),
        remote_ufrag: "cli1".into(),
    });
    e.handle_command(
        now,
        Command::AddParticipant {
            call: CallId(1),
            participant: ParticipantId(1),
            spec,
        },
    )
    .unwrap();
    let from = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)), 5000);
    (e, now, from)
}

fn check(user: &str, pwd: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let n = StunWriter::new(&mut buf, Class::Request, Method::Binding, [9; 12])
        .username(user)
        .priority(1)
        .ice_controlling(7)
        .use_candidate()
        .message_integrity(pwd)
        .fingerprint()
        .finish()
        .unwrap();
    buf[..n].to_vec()
}

#[test]
fn a_valid_ice_check_is_answered_and_latches_the_address() {
    let (mut e, now, from) = ice_engine();
    let mut req = check("srv1:cli1", b"server-password-22chars");
    e.handle_datagram(now, from, &mut req);
    let mut out = [0u8; 1500];
    let t = e.poll_transmit(&mut out).expect("a Binding success");
    assert_eq!(t.to, from);
    let resp = StunMessage::try_from(&out[..t.len]).unwrap();
    assert_eq!(resp.class(), Class::Success);
    assert_eq!(resp.transaction_id(), [9; 12]);
    assert_eq!(resp.xor_mapped_address(), Some(from));
    resp.verify_integrity(b"server-password-22chars").unwrap();
    assert_eq!(
        e.poll_event(),
        Some(Event::MediaStarted {
            call: CallId(1),
            participant: ParticipantId(1),
            addr: from
        })
    );
}

#[test]
fn ice_checks_with_bad_integrity_or_wrong_names_are_dropped_unanswered() {
    let (mut e, now, from) = ice_engine();
    let mut out = [0u8; 1500];
    for (req, reason) in [
        (check("srv1:cli1", b"wrong"), DropReason::AuthFailed),
        (
            check("srv1:other", b"server-password-22chars"),
            DropReason::AuthFailed,
        ),
        (
            check("nobody:cli1", b"server-password-22chars"),
            DropReason::UnknownSsrc,
        ),
    ] {
        let before = e.drop_counters().get(reason);
        let mut req = req;
        e.handle_datagram(now, from, &mut req);
        assert_eq!(e.drop_counters().get(reason), before + 1);
        assert!(e.poll_transmit(&mut out).is_none());
        assert!(e.poll_event().is_none());
    }
}

#[test]
fn an_idle_shard_restarts_its_tick_grid_without_counting_missed_ticks() {
    let mut h = Harness::new(EngineConfig::default(), 2, 17).unwrap();
    h.join(0).unwrap();
    h.join(1).unwrap();
    h.run(Duration::from_secs(1), |_, _| {});
    h.leave(0).unwrap();
    h.leave(1).unwrap();
    assert_eq!(h.engine.poll_timeout(), None);
    h.run(Duration::from_secs(2), |_, _| {});
    let ticks = h.engine.ticks();
    h.join(0).unwrap();
    h.join(1).unwrap();
    let next = h.engine.poll_timeout().expect("ticking again");
    assert!(next > h.now && next <= h.now + Duration::from_millis(20));
    h.run(Duration::from_secs(1), |_, _| {});
    assert_eq!(h.engine.missed_ticks(), 0);
    assert!((49..=51).contains(&(h.engine.ticks() - ticks)));
}

#[test]
fn a_burst_of_ice_checks_beyond_the_answer_ring_is_counted_not_corrupted() {
    let (mut e, now, from) = ice_engine();
    for _ in 0..100 {
        let mut req = check("srv1:cli1", b"server-password-22chars");
        e.handle_datagram(now, from, &mut req);
    }
    let mut out = [0u8; 1500];
    let mut answered = 0;
    while let Some(t) = e.poll_transmit(&mut out) {
        let resp = StunMessage::try_from(&out[..t.len]).unwrap();
        resp.verify_integrity(b"server-password-22chars").unwrap();
        answered += 1;
    }
    assert_eq!(answered, 64);
    assert_eq!(e.drop_counters().get(DropReason::QueueFull), 36);
}

#[test]
fn opus_settings_shape_what_listeners_receive() {
    let bytes_per_packet = |opus: talko_engine::OpusSettings| {
        let mut h = Harness::new(
            EngineConfig {
                opus,
                ..EngineConfig::default()
            },
            2,
            21,
        )
        .unwrap();
        h.join(0).unwrap();
        h.join(1).unwrap();
        h.clients[1].talking = false;
        h.run(Duration::from_secs(3), |_, _| {});
        let s = h
            .engine
            .participant_stats(h.call, ParticipantId(1))
            .unwrap();
        assert!(s.packets_out > 100);
        s.bytes_out / s.packets_out
    };
    let base = talko_engine::OpusSettings::default();
    let low = bytes_per_packet(talko_engine::OpusSettings {
        bitrate: 12_000,
        fec: false,
        ..base
    });
    let high = bytes_per_packet(talko_engine::OpusSettings {
        bitrate: 64_000,
        complexity: 10,
        ..base
    });
    // 12 kbit/s is 30 bytes per 20 ms, 64 kbit/s 160 (plus 12 RTP and 10 SRTP bytes).
    assert!(low < 70, "{low} bytes at 12 kbit/s");
    assert!(high > 120, "{high} bytes at 64 kbit/s");
}
