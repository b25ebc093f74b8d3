//! Caller-chosen identifiers of calls and participants.
//!
//! This module owns only the two newtypes; the engine never invents ids itself.

/// A call, chosen by the control plane. Unique per engine shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// A participant, chosen by the control plane. Unique within its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u64);
