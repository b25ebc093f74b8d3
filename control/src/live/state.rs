//! Presence values: what an account's presence is made of and the events that change
//! it. Plain data (serialised as the live stream and REST show it); the rules that
//! derive one from the other live in the actor ([`super::presence`]).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The user's chosen availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Reachable (the default).
    #[default]
    Available,
    /// Do not disturb.
    Busy,
    /// Stepped away.
    Away,
}

/// The availability others see: the user's choice, `idle` derived from inactivity,
/// or `offline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No sign of life within the expiry.
    #[default]
    Offline,
    /// Online and available.
    Available,
    /// Online, chose busy.
    Busy,
    /// Online, chose away.
    Away,
    /// Online, chose available, but no user activity for the idle period.
    Idle,
}

/// What the account is doing in a call (driven by the call's owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum CallRole {
    /// Not in a call.
    #[default]
    None,
    /// Joined `call`, not speaking.
    InCall {
        /// The call.
        call: Uuid,
    },
    /// Speaking in `call`.
    Talking {
        /// The call.
        call: Uuid,
    },
    /// Listening to `call` live without having joined it.
    ListeningLive {
        /// The call.
        call: Uuid,
    },
    /// Replaying the recording of `call`.
    Replaying {
        /// The call.
        call: Uuid,
    },
}

/// An account's presence as others see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct PresenceState {
    /// Connection presence.
    pub online: bool,
    /// Availability (`offline` when not online).
    pub availability: Status,
    /// Call role (`none` when not online).
    pub call: CallRole,
}

impl PresenceState {
    /// The state of an account nobody has heard from.
    pub const OFFLINE: Self = Self {
        online: false,
        availability: Status::Offline,
        call: CallRole::None,
    };
}

/// A message to an account's presence actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceEvent {
    /// The device is alive (a heartbeat or a WebSocket pong); not user activity.
    Heartbeat {
        /// The device.
        device: Uuid,
    },
    /// The user did something on the device (counts as a heartbeat too).
    Activity {
        /// The device.
        device: Uuid,
    },
    /// The device opened a live connection (a sign of life and of activity).
    Connected {
        /// The device.
        device: Uuid,
    },
    /// The device's live connection ended.
    Disconnected {
        /// The device.
        device: Uuid,
    },
    /// The user chose an availability (counts as activity).
    SetAvailability(Availability),
    /// The call's owner changed the account's role.
    SetCallRole(CallRole),
}

impl PresenceEvent {
    /// Whether this event brings an offline account online (spawns its actor).
    pub(crate) fn spawns(self) -> bool {
        match self {
            Self::Heartbeat { .. }
            | Self::Activity { .. }
            | Self::Connected { .. }
            | Self::SetAvailability(_) => true,
            Self::SetCallRole(role) => role != CallRole::None,
            Self::Disconnected { .. } => false,
        }
    }
}
