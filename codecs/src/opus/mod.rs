//! Opus: packet inspection (RFC 6716 §3) and the libopus encoder/decoder wrapper.

pub mod codec;
pub mod toc;
