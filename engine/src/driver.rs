//! The mio shard driver (in progress).
