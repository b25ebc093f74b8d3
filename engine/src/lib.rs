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

pub use config::{
    EngineConfig, IceCredentials, JitterConfig, OpusSettings, ParticipantSpec, SrtpKeys,
    SrtpProfile,
};
pub use engine::{Command, Engine, Transmit};
pub use events::{
    DropCounters, DropReason, EndReason, EngineError, Event, ParticipantStats, WorkCounters,
};
pub use ids::{CallId, ParticipantId};
