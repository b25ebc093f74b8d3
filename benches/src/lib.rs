//! talko-benches: shared helpers for the criterion benchmarks and `loadgen`.
//!
//! `loadgen` plays many participants over real UDP on loopback against an engine: the
//! command line ([`cli`]), test audio ([`signal`]) and its detection ([`detect`]), the
//! simulated clients ([`client`]), thread CPU accounting ([`cpu`]), the embedded run
//! ([`run`]) and the report ([`report`]).

pub mod cli;
pub mod client;
pub mod cpu;
pub mod detect;
pub mod feeder;
pub mod report;
pub mod run;
pub mod signal;
