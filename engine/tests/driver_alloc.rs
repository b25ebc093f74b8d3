//! The shard thread does not allocate in steady state: a call over real UDP runs for
//! seconds while the shard's own allocation counters (read on the shard thread from
//! the shared counting allocator and published in its statistics) stay still.

#![allow(clippy::disallowed_methods)] // Real sockets in real time, like the driver.

mod driver_support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use driver_support::{run_for, Client};
use talko_engine::driver::{DriverConfig, EngineHandle};
use talko_engine::{CallId, Command, EngineConfig, ParticipantId};

#[global_allocator]
static ALLOC: talko_codecs::testing::CountingAlloc = talko_codecs::testing::CountingAlloc;

#[test]
fn shard_thread_does_not_allocate_while_a_call_runs() {
    let handle = EngineHandle::start(DriverConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        base_port: 0,
        shards: 1,
        engine: EngineConfig {
            max_calls: 4,
            max_participants: 8,
            ..EngineConfig::default()
        },
    })
    .expect("driver starts");
    let server = handle.shard_addr(0);
    let call = CallId(9);
    handle
        .command(0, Command::CreateCall { call })
        .expect("create");
    let mut a = Client::new(11, 700.0, server).expect("client");
    let mut b = Client::new(12, 1300.0, server).expect("client");
    let mut c = Client::new(13, 0.0, server).expect("client");
    for (i, cl) in [&a, &b, &c].into_iter().enumerate() {
        handle
            .command(
                0,
                Command::AddParticipant {
                    call,
                    participant: ParticipantId(i as u64),
                    spec: cl.spec().expect("spec"),
                },
            )
            .expect("add");
    }
    // Warm-up: latching, buffers, talk detection, first events.
    run_for(&mut [&mut a, &mut b, &mut c], Duration::from_millis(1500)).expect("run");
    let before = handle.stats()[0];
    run_for(&mut [&mut a, &mut b, &mut c], Duration::from_millis(3000)).expect("run");
    let after = handle.stats()[0];
    let events: Vec<_> = handle.events().try_iter().collect();

    assert!(after.ticks >= before.ticks + 100, "the call ticked");
    assert!(
        after.datagrams_out >= before.datagrams_out + 300,
        "media flowed"
    );
    assert!(
        before.thread_allocs > 0,
        "the counting allocator sees the shard thread (start-up allocates)"
    );
    assert_eq!(
        (
            after.thread_allocs - before.thread_allocs,
            after.thread_frees - before.thread_frees
        ),
        (0, 0),
        "shard-thread allocations/frees during 3 s of steady state (events: {events:?})"
    );
    assert!(c.frames_with(700.0, 50) > 50 && c.frames_with(1300.0, 50) > 50);
}
