//! The driver over real UDP on loopback: clients in a call hear each other, commands
//! from another thread wake an idle shard, statistics count what happened, shutdown
//! ends calls.

#![allow(clippy::disallowed_methods)] // Real sockets in real time, like the driver.

mod driver_support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use driver_support::{run_for, tone_amplitude, Client};
use talko_engine::driver::{DriverConfig, DriverError, EngineHandle, ShardEvent};
use talko_engine::{CallId, Command, EndReason, EngineConfig, Event, ParticipantId};

fn start(shards: usize) -> EngineHandle {
    EngineHandle::start(DriverConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        base_port: 0,
        shards,
        engine: EngineConfig {
            max_calls: 64,
            max_participants: 64,
            ..EngineConfig::default()
        },
    })
    .expect("driver starts")
}

fn events(handle: &EngineHandle) -> Vec<ShardEvent> {
    handle.events().try_iter().collect()
}

/// Waits until `f` holds on the shard statistics (they are published at least every
/// 100 ms while busy, and before the shard blocks).
fn wait_for(
    handle: &EngineHandle,
    what: &str,
    f: impl Fn(&talko_engine::driver::ShardStats) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if handle.stats().iter().any(&f) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("timed out waiting for: {what}");
}

#[test]
fn two_clients_in_a_call_hear_each_other_and_not_themselves() {
    let handle = start(2);
    assert_eq!(handle.shards(), 2);
    assert_ne!(handle.shard_addr(0), handle.shard_addr(1));
    let call = CallId(7);
    let shard = handle.place_call(call);
    assert_eq!(
        handle.place_call(call),
        shard,
        "a placed call keeps its shard"
    );
    let server = handle.shard_addr(shard);
    let mut a = Client::new(1, 600.0, server).expect("client a");
    let mut b = Client::new(2, 1400.0, server).expect("client b");
    handle
        .command(shard, Command::CreateCall { call })
        .expect("create");
    for (id, c) in [(1, &a), (2, &b)] {
        handle
            .command(
                shard,
                Command::AddParticipant {
                    call,
                    participant: ParticipantId(id),
                    spec: c.spec().expect("spec"),
                },
            )
            .expect("add");
    }
    run_for(&mut [&mut a, &mut b], Duration::from_millis(2500)).expect("run");

    // Skip the first half second (jitter buffer fill, talk detection).
    for (me, other) in [(&a, &b), (&b, &a)] {
        assert!(
            me.frames.len() > 60,
            "received {} mix frames",
            me.frames.len()
        );
        let heard = me.frames_with(other.tone_hz, 25);
        let own = me.frames_with(me.tone_hz, 25);
        assert!(
            heard * 10 >= (me.frames.len() - 25) * 7,
            "heard the other in {heard} of {} frames",
            me.frames.len() - 25
        );
        assert_eq!(own, 0, "heard itself in {own} frames");
        assert_eq!(me.auth_failures, 0);
    }
    let mid = a.frames.len() / 2;
    assert!(tone_amplitude(&a.frames[mid], 1400.0) > 0.1);

    let evs = events(&handle);
    let started = evs
        .iter()
        .filter(|e| matches!(e.event, Event::MediaStarted { call: c, .. } if c == call))
        .count();
    assert_eq!(started, 2, "both addresses latched: {evs:?}");
    assert!(evs.iter().all(|e| e.shard == shard));

    let stats = handle.stats();
    let s = &stats[shard];
    assert!(s.datagrams_in >= 200, "datagrams in {}", s.datagrams_in);
    assert!(s.datagrams_out >= 150, "datagrams out {}", s.datagrams_out);
    assert!(s.ticks >= 100, "ticks {}", s.ticks);
    assert!(s.tick_max >= s.tick_p99 && s.tick_p99 >= s.tick_p50);
    assert!(s.tick_p50 > Duration::ZERO);
    assert_eq!(s.send_would_block + s.send_errors, 0);
    // Every packet mixed gets a server-added latency sample on the engine's timeline
    // (read off the socket -> its mix sent): there are many, and they are plausible
    // (a wrong clock base would give nonsense, not tens of milliseconds).
    assert!(
        s.mix_latency.count() >= 100,
        "latency samples {}",
        s.mix_latency.count()
    );
    assert!(
        s.mix_latency.quantile_duration(0.5) < Duration::from_millis(200),
        "median server-added latency {:?}",
        s.mix_latency.quantile_duration(0.5)
    );
    assert_eq!(
        s.missed_ticks, 0,
        "an idle test machine runs every tick on time"
    );
    let other = &stats[1 - shard];
    assert_eq!(other.datagrams_in, 0, "the other shard saw nothing");
    assert_eq!(other.ticks, 0, "a shard without calls never ticks");

    let remaining = handle.shutdown();
    assert!(
        remaining.iter().any(|e| matches!(
            e.event,
            Event::CallEnded { call: c, reason: EndReason::Ended } if c == call
        )),
        "shutdown ends the call: {remaining:?}"
    );
}

#[test]
fn a_command_from_another_thread_wakes_an_idle_shard() {
    let handle = start(1);
    // Nothing to tick: the shard blocks without a timeout.
    std::thread::sleep(Duration::from_millis(50));
    let before = handle.stats()[0];
    assert_eq!(before.ticks, 0);
    std::thread::scope(|s| {
        s.spawn(|| {
            handle
                .command(0, Command::CreateCall { call: CallId(1) })
                .expect("queued")
        });
    });
    wait_for(&handle, "the command to be handled", |s| s.commands == 1);
    // A second CreateCall for the same id is refused by the engine and counted.
    handle
        .command(0, Command::CreateCall { call: CallId(1) })
        .expect("queued");
    wait_for(&handle, "the refusal to be counted", |s| {
        s.command_errors == 1
    });
    assert_eq!(
        handle.command(3, Command::CreateCall { call: CallId(2) }),
        Err(DriverError::NoSuchShard)
    );
    let after = handle.stats()[0];
    assert!(
        after.idle > after.busy,
        "an idle shard mostly sleeps: busy {:?} idle {:?}",
        after.busy,
        after.idle
    );
}

#[test]
fn garbage_datagrams_are_counted_drops_and_the_shard_goes_on() {
    let handle = start(1);
    let call = CallId(3);
    handle
        .command(0, Command::CreateCall { call })
        .expect("create");
    let server = handle.shard_addr(0);
    let mut a = Client::new(5, 800.0, server).expect("client");
    let mut b = Client::new(6, 1800.0, server).expect("client");
    for (id, c) in [(1, &a), (2, &b)] {
        handle
            .command(
                0,
                Command::AddParticipant {
                    call,
                    participant: ParticipantId(id),
                    spec: c.spec().expect("spec"),
                },
            )
            .expect("add");
    }
    let attacker = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    for i in 0..200u32 {
        let len = (i as usize * 37) % 1600 + 1;
        let junk: Vec<u8> = (0..len).map(|j| (j as u32 * 131 + i) as u8).collect();
        attacker.send_to(&junk, server).expect("send junk");
        if i % 10 == 9 {
            // Paced, so the kernel's receive buffer never overflows.
            std::thread::sleep(Duration::from_millis(3));
        }
    }
    // Oversized: more than the engine's 1500-byte maximum.
    attacker.send_to(&[0x80; 1900], server).expect("send big");
    run_for(&mut [&mut a, &mut b], Duration::from_millis(1500)).expect("run");
    let s = handle.stats()[0];
    assert!(
        s.datagrams_in >= 201 + 100,
        "datagrams in {}",
        s.datagrams_in
    );
    assert!(
        s.engine_drops.total() >= 201,
        "junk counted as drops: {:?}",
        s.engine_drops
    );
    assert!(a.frames_with(1800.0, 25) > 20, "the call still works");
}

#[test]
fn calls_are_placed_on_the_least_loaded_shard_and_forgotten_when_ended() {
    let handle = start(2);
    let a = handle.place_call(CallId(1));
    let b = handle.place_call(CallId(2));
    assert_ne!(a, b, "the second call goes to the empty shard");
    let c = handle.place_call(CallId(3));
    assert_eq!(handle.shard_of(CallId(3)), Some(c));
    for (call, shard) in [(1, a), (2, b), (3, c)] {
        handle
            .command(shard, Command::CreateCall { call: CallId(call) })
            .expect("create");
    }
    // End a call on the shard that does not hold call 3: it becomes the lighter one.
    let (ended, shard) = if c == a { (2, b) } else { (1, a) };
    handle
        .command(
            shard,
            Command::EndCall {
                call: CallId(ended),
            },
        )
        .expect("end");
    assert_eq!(handle.shard_of(CallId(ended)), None);
    assert_eq!(handle.place_call(CallId(4)), shard);
    handle.forget_call(CallId(4));
    assert_eq!(handle.shard_of(CallId(4)), None);
    wait_for(&handle, "the commands", |s| s.commands >= 2);
    let remaining = handle.shutdown();
    let ended_on_shutdown = remaining
        .iter()
        .filter(|e| {
            matches!(
                e.event,
                Event::CallEnded {
                    reason: EndReason::Ended,
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        ended_on_shutdown, 3,
        "calls 1 or 2, and 3, end; 4 was never created"
    );
}
