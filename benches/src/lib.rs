//! talko-benches: shared helpers for the criterion benchmarks and `loadgen`.
