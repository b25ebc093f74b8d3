//! The live stream: notifications and presence pushed to connected devices.
//!
//! This module owns the in-memory side of "who is connected and what must reach
//! them now":
//!
//! - [`Hub`] ([`hub`]): the registry of connected devices per account. `publish`
//!   hands a [`LiveMessage`] to every connected device of an account at once, through a
//!   bounded queue per device; a device that does not keep up is disconnected with a
//!   reason, never buffered without bound.
//! - [`presence`]: one owner task (actor) per online account holding its connection
//!   presence, availability and call role; expiry and idleness are the actor's own
//!   timers; group members receive coalesced transitions through the hub.
//! - [`fanout`]: optional cross-node delivery through Redis pub/sub.
//! - [`ws`]: the WebSocket session of one device: replay from a cursor through a
//!   [`NotificationSource`], then live messages, de-duplicated across the switch.
//!
//! It must never be the durable record: notifications live in the store (the
//! inbox table) and are published here only *after* their transaction committed, so
//! that a reconnect with a cursor replays exactly what a dropped connection missed.
//! It knows nothing about HTTP authentication: the caller resolves the account and
//! device before handing a socket over.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Deserialize as _;
use uuid::Uuid;

pub mod fanout;
pub mod hub;
pub mod presence;
pub mod state;
pub mod ws;

pub use fanout::{FanoutConfig, FanoutError, RedisFanout, RedisPresence};
pub use hub::{DisconnectReason, Hub, HubConfig, Subscription};
pub use presence::{
    Audience, Availability, CallRole, Presence, PresenceConfig, PresenceEvent, PresenceHandle,
    PresenceMirror, PresenceState, Status,
};
pub use ws::{serve_socket, upgrade, ClientMessage, Live, LiveConfig, LiveQuery};

/// A boxed, sendable future: the return type of the object-safe traits here.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A message for one account's connected devices.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveMessage {
    /// A stored notification; `cursor` is its opaque position in the account's
    /// inbox (assigned by the store; resuming after it replays what follows).
    Notification {
        /// The inbox cursor.
        cursor: Arc<str>,
        /// The notification document as the REST inbox shows it.
        notification: Arc<serde_json::Value>,
    },
    /// A presence transition of `account` (one of the recipient's group peers).
    Presence {
        /// Whose presence changed.
        account: Uuid,
        /// The new state.
        state: PresenceState,
    },
}

impl LiveMessage {
    /// A notification message.
    pub fn notification(cursor: &str, notification: serde_json::Value) -> Self {
        Self::Notification {
            cursor: Arc::from(cursor),
            notification: Arc::new(notification),
        }
    }

    /// The JSON text sent to the client:
    /// `{"type":"notification","cursor":"…","notification":{…}}` or
    /// `{"type":"presence","account":"…","state":{…}}`.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// [`LiveMessage::to_json`] as a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Self::Notification {
                cursor,
                notification,
            } => serde_json::json!({
                "type": "notification",
                "cursor": &**cursor,
                "notification": &**notification,
            }),
            Self::Presence { account, state } => serde_json::json!({
                "type": "presence",
                "account": account,
                "state": state,
            }),
        }
    }

    /// Parses what [`LiveMessage::to_value`] produced; `None` for anything else.
    pub fn from_value(value: &serde_json::Value) -> Option<Self> {
        match value.get("type")?.as_str()? {
            "notification" => Some(Self::Notification {
                cursor: Arc::from(value.get("cursor")?.as_str()?),
                notification: Arc::new(value.get("notification")?.clone()),
            }),
            "presence" => Some(Self::Presence {
                account: Uuid::parse_str(value.get("account")?.as_str()?).ok()?,
                state: PresenceState::deserialize(value.get("state")?).ok()?,
            }),
            _ => None,
        }
    }
}

/// Why the store could not replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceError {
    /// The cursor is not one the store issued (the client's fault).
    InvalidCursor,
    /// The store is unavailable; the client reconnects later.
    Unavailable,
}

impl SourceError {
    /// A stable code, used as the WebSocket close reason.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidCursor => "invalid_cursor",
            Self::Unavailable => "store_unavailable",
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidCursor => "the notification cursor is not valid",
            Self::Unavailable => "notification store unavailable",
        })
    }
}

impl std::error::Error for SourceError {}

/// The durable inbox the WebSocket session replays from (implemented by the store).
///
/// Cursors are opaque strings issued by the store; the session compares them only
/// for equality (to drop duplicates), never for order.
pub trait NotificationSource: Send + Sync {
    /// Up to `limit` notifications of `account` that follow `cursor`, oldest first,
    /// each as `(cursor, document)`.
    fn since<'a>(
        &'a self,
        account: Uuid,
        cursor: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<(String, serde_json::Value)>, SourceError>>;

    /// The client on `device` has received everything up to `cursor`. The default
    /// does nothing; a store may record a per-device delivery mark.
    fn ack<'a>(
        &'a self,
        account: Uuid,
        device: Uuid,
        cursor: &'a str,
    ) -> BoxFuture<'a, Result<(), SourceError>> {
        let _ = (account, device, cursor);
        Box::pin(async { Ok(()) })
    }
}
