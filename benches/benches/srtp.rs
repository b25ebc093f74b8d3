//! SRTP protect/unprotect benchmarks (in progress).
fn main() {}
