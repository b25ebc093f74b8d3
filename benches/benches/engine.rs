//! Engine tick benchmarks (in progress).
fn main() {}
