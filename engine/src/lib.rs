//! talko-engine: the media engine (see DESIGN.md §3).
//!
//! The core is sans-IO: [`Engine`] (one per shard) takes commands, datagrams and
//! timeouts with `now` as an argument and gives datagrams, events and its next timeout
//! through `poll_*` calls. The [`driver`] runs engines on mio threads with real sockets;
//! the [`recorder`] writes recordings off the media path. Nothing in the core reads the
//! clock, opens a socket or allocates per packet or tick in steady state.
//!
//! Module map: [`config`] (knobs and participant description), [`ids`], [`events`]
//! (events, stats, counted drops, errors), `engine` (tables, demux, tick scheduling,
//! output), `call` (one call's tick), `participant` (receive path, decode), [`jitter`],
//! [`mixer`], [`limiter`], [`level`], `ice`, `rtcp_stats`, `tx`, and the hidden [`sim`]
//! (virtual network and simulated clients, for tests, load generation and benchmarks).
//!
//! Additions to the shared API contract: [`Engine::work_counters`] ([`WorkCounters`]:
//! ticks, missed ticks, phase runs, decodes, encodes, packets out),
//! [`Engine::participant_stats`], [`Engine::call_count`], [`Engine::participant_count`],
//! [`Engine::ticks`], [`Engine::phase_runs`] and [`Engine::missed_ticks`];
//! [`EngineConfig::tick_phases`] (calls spread over sub-tick phases of the 20 ms period;
//! ticks are still counted per period); [`EngineError::NoRecorder`] for `StartRecording` without
//! [`Engine::set_recorder`]; [`DropReason::Late`], [`DropReason::Duplicate`] and
//! [`DropReason::QueueFull`] beside the contract's reasons. `Command` is `Clone` (not
//! `Copy`: it carries keys); `Event` and [`ParticipantStats`] are `Copy`. `SrtpKeys` and
//! `IceCredentials` never print their secrets in `Debug`.

pub mod config;
pub mod driver;
pub mod events;
pub mod ids;
pub mod jitter;
pub mod level;
pub mod limiter;
pub mod mixer;
pub mod recorder;

mod call;
mod engine;
mod ice;
mod participant;
mod rtcp_stats;
mod tx;

#[doc(hidden)]
pub mod sim;

pub use call::MixedPackets;
pub use config::{
    EngineConfig, IceCredentials, JitterConfig, OpusSettings, ParticipantSpec, SrtpKeys,
    SrtpProfile,
};
pub use engine::{Command, Datagram, Engine, Transmit};
pub use events::{
    DropCounters, DropReason, EndReason, EngineError, Event, ParticipantStats, WorkCounters,
};
pub use ids::{CallId, ParticipantId};
