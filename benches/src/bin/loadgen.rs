//! `loadgen`: plays many participants over real UDP against a running engine (in progress).
fn main() {}
