//! Bad input is a counted drop, never a panic, and never disturbs a live call: random
//! bytes, truncated packets, unknown SSRCs, wrong source addresses, bad tags, replays,
//! oversized datagrams, DTLS and bogus STUN — one test per class, then all of them at
//! once at a call whose audio must stay unaffected.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::Hearing;
use talko_codecs::stun::{Class, Method, StunWriter};
use talko_engine::sim::{ClientConfig, Harness, Rng, SimClient, MTU};
use talko_engine::{DropReason, EngineConfig, Event};

fn attacker() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 66)), 6666)
}

/// A call of two talking clients, warmed up.
fn live_call(expected_addr: bool) -> Harness {
    let mut h = Harness::new(EngineConfig::default(), 2, 9).unwrap();
    for i in 0..2 {
        let spec = h.clients[i].spec(expected_addr.then_some(h.clients[i].addr));
        h.join_spec(i, spec).unwrap();
    }
    h.run(Duration::from_millis(800), |_, _| {});
    h
}

/// A client with client 0's keys and SSRC whose packets are `ahead` packets ahead of
/// the real one (fresh indices) or, with `ahead == 0`, repeat indices already used.
fn twin(ahead: u16) -> SimClient {
    let mut cfg = ClientConfig::new(0);
    cfg.seq_start = cfg.seq_start.wrapping_add(ahead);
    SimClient::new(cfg).unwrap()
}

fn packet(c: &mut SimClient) -> Vec<u8> {
    let mut buf = [0u8; MTU];
    let n = c.next_packet(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// Runs `h` for 100 ms and returns the drop counter growth for `reason` and in total.
fn drops_after(h: &mut Harness, reason: DropReason, send: impl FnOnce(&mut Harness)) -> (u64, u64) {
    let before = h.engine.drop_counters();
    send(h);
    h.run(Duration::from_millis(100), |_, _| {});
    let after = h.engine.drop_counters();
    (
        after.get(reason) - before.get(reason),
        after.total() - before.total(),
    )
}

#[test]
fn random_bytes_are_counted_drops() {
    let mut h = live_call(false);
    let mut rng = Rng::new(77);
    let (_, total) = drops_after(&mut h, DropReason::Malformed, |h| {
        for _ in 0..2_000 {
            let len = (rng.next_u64() % 1_400) as usize;
            let mut d = vec![0u8; len];
            rng.fill(&mut d);
            h.inject(attacker(), &d);
        }
    });
    assert_eq!(total, 2_000);
}

#[test]
fn truncated_packets_are_counted_drops() {
    let mut h = live_call(false);
    let full = packet(&mut twin(20_000));
    let (_, total) = drops_after(&mut h, DropReason::AuthFailed, |h| {
        for len in 0..full.len() {
            h.inject(h.clients[0].addr, &full[..len]);
        }
    });
    assert_eq!(total, full.len() as u64);
}

#[test]
fn unknown_ssrcs_are_counted() {
    let mut h = live_call(false);
    let mut p = packet(&mut twin(20_000));
    let (n, total) = drops_after(&mut h, DropReason::UnknownSsrc, |h| {
        for ssrc in 0..50u32 {
            p[8..12].copy_from_slice(&(0xDEAD_0000 + ssrc).to_be_bytes());
            h.inject(attacker(), &p);
        }
    });
    assert_eq!((n, total), (50, 50));
}

#[test]
fn packets_from_a_wrong_source_are_counted_when_an_address_is_expected() {
    let mut h = live_call(true);
    let mut t = twin(20_000);
    let (n, total) = drops_after(&mut h, DropReason::WrongSource, |h| {
        for _ in 0..20 {
            // Valid, fresh and authentic — but from the wrong address.
            h.inject(attacker(), &packet(&mut t));
        }
    });
    assert_eq!((n, total), (20, 20));
}

#[test]
fn bad_tags_are_counted_and_never_latch_the_sender() {
    let mut h = live_call(false);
    let mut t = twin(20_000);
    let events_before = h.events.len();
    let (n, total) = drops_after(&mut h, DropReason::AuthFailed, |h| {
        for k in 0..20 {
            let mut p = packet(&mut t);
            let last = p.len() - 1 - (k % 10);
            p[last] ^= 0x5A;
            h.inject(attacker(), &p);
        }
    });
    assert_eq!((n, total), (20, 20));
    // RTP bleed: nothing latched to the attacker.
    let bad_events: Vec<_> = h.events[events_before..]
        .iter()
        .filter(|e| matches!(e, Event::MediaStarted { .. } | Event::CallEnded { .. }))
        .collect();
    assert!(bad_events.is_empty(), "{bad_events:?}");
    assert!(!h.events[events_before..]
        .iter()
        .any(|e| matches!(e, Event::MediaStarted { addr, .. } if *addr == attacker())));
}

#[test]
fn replays_are_counted() {
    let mut h = live_call(false);
    let mut old = twin(0);
    let (n, total) = drops_after(&mut h, DropReason::Replayed, |h| {
        for _ in 0..30 {
            h.inject(attacker(), &packet(&mut old));
        }
    });
    assert_eq!((n, total), (30, 30));
}

#[test]
fn oversized_dtls_and_bogus_stun_are_counted_by_reason() {
    let mut h = live_call(false);
    let (n, _) = drops_after(&mut h, DropReason::TooLarge, |h| {
        h.inject(attacker(), &[0x80; 1_501]);
    });
    assert_eq!(n, 1);
    let (n, _) = drops_after(&mut h, DropReason::Unsupported, |h| {
        let mut dtls = [0u8; 40];
        dtls[0] = 22;
        dtls[1] = 0xFE;
        dtls[2] = 0xFD;
        h.inject(attacker(), &dtls);
    });
    assert_eq!(n, 1);
    let (n, _) = drops_after(&mut h, DropReason::Malformed, |h| {
        let mut stun = [0u8; 28];
        stun[1] = 1;
        h.inject(attacker(), &stun);
    });
    assert_eq!(n, 1);
    let (n, _) = drops_after(&mut h, DropReason::UnknownSsrc, |h| {
        let mut buf = [0u8; 200];
        let len = StunWriter::new(&mut buf, Class::Request, Method::Binding, [3; 12])
            .username("nobody:here")
            .message_integrity(b"secret")
            .fingerprint()
            .finish()
            .unwrap();
        h.inject(attacker(), &buf[..len]);
    });
    assert_eq!(n, 1);
}

/// Every class of the catalogue, as datagrams with the address they come from.
fn catalogue(h: &Harness, rng: &mut Rng) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    let client = h.clients[0].addr;
    let mut fresh = twin(30_000);
    // Replays: copies of packets the real client already sent (it sent ~40 in warm-up).
    let mut old_twin = twin(0);
    let old: Vec<Vec<u8>> = (0..30).map(|_| packet(&mut old_twin)).collect();
    for k in 0..40usize {
        // Random bytes.
        let mut d = vec![0u8; (rng.next_u64() % 1_400) as usize];
        rng.fill(&mut d);
        out.push((attacker(), d));
        // Truncated, from the client's own address.
        let p = packet(&mut fresh);
        out.push((client, p[..k % p.len()].to_vec()));
        // Bad tag, spoofing the client's address.
        let mut p = packet(&mut fresh);
        let last = p.len() - 1;
        p[last] ^= 1;
        out.push((client, p));
        // Replay, from the attacker and from the client's address.
        out.push((attacker(), old[k % old.len()].clone()));
        out.push((client, old[(k + 7) % old.len()].clone()));
        // Unknown SSRC.
        let mut p = packet(&mut fresh);
        p[8] ^= 0xFF;
        out.push((attacker(), p));
        // Oversized, DTLS, garbage STUN, RTCP with a bad tag.
        out.push((attacker(), vec![0x80; 1_600]));
        out.push((
            attacker(),
            vec![23, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4],
        ));
        out.push((
            attacker(),
            vec![
                0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
            ],
        ));
        let mut rtcp = vec![0x80, 200, 0, 6];
        rtcp.extend_from_slice(&h.clients[0].ssrc.to_be_bytes());
        rtcp.extend_from_slice(&[0u8; 34]);
        out.push((client, rtcp));
    }
    out
}

#[test]
fn the_whole_bad_input_catalogue_leaves_a_live_call_unaffected() {
    let mut h = live_call(false);
    let mut rng = Rng::new(5);
    let bad = catalogue(&h, &mut rng);
    let events_before = h.events.len();
    let drops_before = h.engine.drop_counters().total();
    let mut heard = Hearing::new(2);
    let mut i = 0;
    // Blast the catalogue over 4 s of call, a few datagrams every millisecond.
    for _ in 0..4_000 {
        for _ in 0..3 {
            let (from, d) = &bad[i % bad.len()];
            h.inject(*from, d);
            i += 1;
        }
        h.run(Duration::from_millis(1), |l, pcm| heard.record(l, pcm));
    }
    // Let the last bad datagrams arrive.
    h.run(Duration::from_millis(50), |_, _| {});
    let frames = 4_000 / 20;
    heard.assert_heard(0, &[1], frames, "under attack");
    heard.assert_heard(1, &[0], frames, "under attack");
    let dropped = h.engine.drop_counters().total() - drops_before;
    assert!(dropped >= i as u64, "{dropped} drops for {i} bad datagrams");
    let bad_events: Vec<_> = h.events[events_before..]
        .iter()
        .filter(|e| matches!(e, Event::MediaStarted { .. } | Event::CallEnded { .. }))
        .collect();
    assert!(bad_events.is_empty(), "{bad_events:?}");
    assert!(!h.events[events_before..]
        .iter()
        .any(|e| matches!(e, Event::MediaStarted { .. } | Event::CallEnded { .. })));
    for c in &h.clients {
        assert_eq!(c.stats.rejected, 0);
    }
}

mod mutated {
    use super::*;
    use proptest::prelude::*;
    use talko_engine::{CallId, Command, Engine, ParticipantId};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Any corruption of an authentic packet (bit flips anywhere, truncation or
        /// extension) is a counted drop, never a panic, an event or an accepted packet.
        #[test]
        fn corrupted_authentic_packets_are_always_counted_drops(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
            cut in 0usize..4,
            extra in proptest::collection::vec(any::<u8>(), 0..3),
        ) {
            let start = Harness::new(EngineConfig::default(), 0, 1).unwrap().now;
            let mut e = Engine::new(EngineConfig::default());
            e.handle_command(start, Command::CreateCall { call: CallId(1) }).unwrap();
            let mut c = SimClient::new(ClientConfig::new(0)).unwrap();
            e.handle_command(start, Command::AddParticipant {
                call: CallId(1),
                participant: ParticipantId(0),
                spec: c.spec(None),
            }).unwrap();
            let original = packet(&mut c);
            let mut p = original.clone();
            for (at, x) in &flips {
                let i = at.index(p.len());
                p[i] ^= x;
            }
            p.truncate(p.len() - cut);
            p.extend_from_slice(&extra);
            // Two flips of one byte can cancel out.
            prop_assume!(p != original);
            e.handle_datagram(start, c.addr, &mut p);
            prop_assert_eq!(e.drop_counters().total(), 1);
            prop_assert!(e.poll_event().is_none());
        }
    }
}
