//! talko-codecs: the wire formats and codecs talko speaks.
//!
//! Everything here is sans-IO: no sockets, no threads, no clock. Parsers are borrowed
//! views validated once by a constructor; writers fill caller-owned buffers and return a
//! length; transforms (SRTP) work in place. Nothing on a packet path allocates.

pub mod demux;
pub mod ogg;
pub mod opus;
pub mod rtcp;
pub mod rtp;
pub mod srtp;
pub mod stun;
pub mod wav;

#[doc(hidden)]
pub mod testing;
