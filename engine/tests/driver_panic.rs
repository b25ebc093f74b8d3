//! Let it crash, per call, under the real driver: a panic injected into one call's tick
//! ends that call with an event; the other call on the same shard thread goes on.

#![allow(clippy::disallowed_methods)] // Real sockets in real time, like the driver.

mod driver_support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use driver_support::{run_for, Client};
use talko_engine::driver::{DriverConfig, EngineHandle};
use talko_engine::{CallId, Command, EndReason, EngineConfig, Event, ParticipantId};

#[test]
fn a_panic_in_one_call_ends_only_that_call() {
    let handle = EngineHandle::start(DriverConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        base_port: 0,
        shards: 1,
        engine: EngineConfig {
            max_calls: 8,
            max_participants: 8,
            ..EngineConfig::default()
        },
    })
    .expect("driver starts");
    let server = handle.shard_addr(0);
    let (doomed, survivor) = (CallId(1), CallId(2));
    let mut a1 = Client::new(1, 600.0, server).expect("client");
    let mut a2 = Client::new(2, 900.0, server).expect("client");
    let mut b1 = Client::new(3, 1200.0, server).expect("client");
    let mut b2 = Client::new(4, 1500.0, server).expect("client");
    for (call, clients) in [(doomed, [&a1, &a2]), (survivor, [&b1, &b2])] {
        assert_eq!(handle.place_call(call), 0);
        handle
            .command(0, Command::CreateCall { call })
            .expect("create");
        for (i, c) in clients.into_iter().enumerate() {
            handle
                .command(
                    0,
                    Command::AddParticipant {
                        call,
                        participant: ParticipantId(i as u64 + 1),
                        spec: c.spec().expect("spec"),
                    },
                )
                .expect("add");
        }
    }
    run_for(
        &mut [&mut a1, &mut a2, &mut b1, &mut b2],
        Duration::from_millis(1000),
    )
    .expect("run");
    assert!(a1.frames_with(900.0, 10) > 10, "the doomed call worked");

    handle
        .command(0, Command::InjectPanic { call: doomed })
        .expect("inject");
    let injected = Instant::now();
    let ticks_before = handle.stats()[0].ticks;
    run_for(
        &mut [&mut a1, &mut a2, &mut b1, &mut b2],
        Duration::from_millis(1500),
    )
    .expect("run");

    let events: Vec<_> = handle.events().try_iter().collect();
    let ended: Vec<_> = events
        .iter()
        .filter_map(|e| match e.event {
            Event::CallEnded { call, reason } => Some((call, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(ended, vec![(doomed, EndReason::Panicked)], "{events:?}");

    let settle = injected + Duration::from_millis(200);
    let after = |c: &Client, freq: f32| {
        c.frames
            .iter()
            .zip(&c.arrivals)
            .filter(|(f, t)| **t > settle && driver_support::tone_amplitude(f, freq) > 0.05)
            .count()
    };
    let doomed_after = a1.arrivals.iter().filter(|t| **t > settle).count();
    assert_eq!(doomed_after, 0, "the ended call sends nothing more");
    assert!(
        after(&b1, 1500.0) > 40,
        "the other call goes on: {} frames",
        after(&b1, 1500.0)
    );
    assert!(after(&b2, 1200.0) > 40);
    let s = handle.stats()[0];
    assert!(
        s.ticks > ticks_before + 40,
        "the shard thread keeps ticking"
    );
    assert!(
        s.engine_drops.total() > 0,
        "the dead call's clients are now strangers: their packets are counted drops"
    );
}
