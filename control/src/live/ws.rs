//! One device's WebSocket session: replay from a cursor, then live messages.
//!
//! Order matters and is the whole point: the session subscribes to the [`Hub`]
//! *before* it asks the store for what the client missed, so a notification
//! committed during the replay is either in the replay or in the subscription queue
//! (or both — duplicates are dropped by cursor). Nothing is lost, nothing doubled.
//! Cursors are opaque: duplicates are recognised by equality with the client's resume
//! cursor or with a cursor sent during the replay.
//!
//! Client → server (JSON text frames):
//! `{"type":"heartbeat"}`, `{"type":"activity"}`,
//! `{"type":"availability","value":"available"|"busy"|"away"}`,
//! `{"type":"ack","cursor":"…"}`.
//!
//! Server → client: `{"type":"notification","cursor":"…","notification":{…}}`,
//! `{"type":"presence","account":"…","state":{…}}`, `{"type":"ready","cursor":"…"}`
//! once the replay is done, `{"type":"error","code":"bad_message"}` for a frame it
//! could not understand, WebSocket pings every [`LiveConfig::ping_interval`], and a
//! close frame with a reason when the server ends the session: code 4000 with
//! `slow_consumer`, `replaced` or `resync` (reconnect with the cursor), 4400
//! `invalid_cursor`, 1011 `store_unavailable`, 1001 `timeout`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::time::{Instant, MissedTickBehavior};
use uuid::Uuid;

use super::presence::{Availability, PresenceHandle};
use super::{Hub, LiveMessage, NotificationSource, SourceError};

/// Session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveConfig {
    /// Notifications fetched per replay query.
    pub replay_page: u32,
    /// Interval of server pings.
    pub ping_interval: Duration,
    /// A session that receives nothing (not even a pong) for this long is closed.
    pub receive_timeout: Duration,
    /// Largest client frame accepted, in bytes.
    pub max_message: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            replay_page: 200,
            ping_interval: Duration::from_secs(20),
            receive_timeout: Duration::from_secs(60),
            max_message: 4096,
        }
    }
}

/// Everything a session needs; put one in the application state.
#[derive(Clone)]
pub struct Live {
    /// The connected-device registry.
    pub hub: Hub,
    /// The durable inbox.
    pub source: Arc<dyn NotificationSource>,
    /// Presence actors.
    pub presence: PresenceHandle,
    /// Session settings.
    pub config: LiveConfig,
}

/// The query string of the WebSocket endpoint: `?cursor=C` resumes after `C`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LiveQuery {
    /// The cursor of the newest notification the client already has.
    pub cursor: Option<String>,
}

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The device is alive.
    Heartbeat,
    /// The user did something.
    Activity,
    /// The user chose an availability.
    Availability {
        /// The choice.
        value: Availability,
    },
    /// The client has everything up to `cursor`.
    Ack {
        /// The newest cursor received.
        cursor: String,
    },
}

/// Finishes a WebSocket upgrade for an authenticated `account` and `device`: the
/// whole handler body of the core's `GET /v1/live` after authentication.
pub fn upgrade(
    ws: WebSocketUpgrade,
    live: Live,
    account: Uuid,
    device: Uuid,
    cursor: Option<String>,
) -> Response {
    let max = live.config.max_message;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| serve_socket_with(socket, account, device, cursor, live))
}

/// Runs one device's session until either side closes it, with default settings.
/// `cursor` is the newest notification the client has (`None`: live only).
pub async fn serve_socket(
    socket: WebSocket,
    account: Uuid,
    device: Uuid,
    cursor: Option<String>,
    hub: Hub,
    source: Arc<dyn NotificationSource>,
    presence: PresenceHandle,
) {
    let live = Live {
        hub,
        source,
        presence,
        config: LiveConfig::default(),
    };
    serve_socket_with(socket, account, device, cursor, live).await;
}

/// [`serve_socket`] with the settings in `live.config`.
pub async fn serve_socket_with(
    socket: WebSocket,
    account: Uuid,
    device: Uuid,
    cursor: Option<String>,
    live: Live,
) {
    // Subscribe first, then replay: see the module docs.
    let subscription = live.hub.connect(account, device);
    live.presence.connected(account, device).await;
    let mut session = Session {
        account,
        device,
        live,
        socket,
        floor: cursor,
        replayed: HashSet::new(),
    };
    let reason = session.run(subscription).await;
    let Session { live, socket, .. } = session;
    live.presence.disconnected(account, device).await;
    close(socket, reason).await;
}

/// Why the server ends a session; `None` when the client went away.
type CloseReason = Option<(u16, &'static str)>;

struct Session {
    account: Uuid,
    device: Uuid,
    live: Live,
    socket: WebSocket,
    /// The client's resume cursor: the client has that notification.
    floor: Option<String>,
    /// Cursors sent during the replay, to drop their live duplicates.
    replayed: HashSet<String>,
}

impl Session {
    async fn run(&mut self, mut subscription: super::Subscription) -> CloseReason {
        let mut newest = self.floor.clone();
        if let Some(mut after) = self.floor.clone() {
            let page_size = self.live.config.replay_page.max(1);
            loop {
                let page = match self
                    .live
                    .source
                    .since(self.account, &after, page_size)
                    .await
                {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::warn!(account = %self.account, error = %e, "live: replay failed");
                        return Some((close_code(e), e.code()));
                    }
                };
                let full = page.len() >= usize::try_from(page_size).unwrap_or(usize::MAX);
                let mut advanced = false;
                for (cursor, notification) in page {
                    if cursor == after || self.replayed.contains(&cursor) {
                        // A source that repeats itself must not loop us forever.
                        continue;
                    }
                    let text = LiveMessage::notification(&cursor, notification).to_json();
                    self.replayed.insert(cursor.clone());
                    after = cursor;
                    advanced = true;
                    if !self.send_text(text).await {
                        return None;
                    }
                }
                newest = Some(after.clone());
                if !full || !advanced {
                    break;
                }
            }
        }
        let ready = serde_json::json!({ "type": "ready", "cursor": newest }).to_string();
        if !self.send_text(ready).await {
            return None;
        }

        let config = self.live.config;
        let mut pings =
            tokio::time::interval_at(Instant::now() + config.ping_interval, config.ping_interval);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_received = Instant::now();
        loop {
            tokio::select! {
                message = subscription.recv() => {
                    let Some(message) = message else {
                        let reason = subscription.disconnect_reason().map_or("server_closed", |r| r.code());
                        return Some((4000, reason));
                    };
                    if self.is_duplicate(&message) {
                        continue;
                    }
                    if !self.send_text(message.to_json()).await {
                        return None;
                    }
                }
                frame = self.socket.next() => {
                    let Some(Ok(frame)) = frame else {
                        return None;
                    };
                    last_received = Instant::now();
                    match frame {
                        Message::Text(text) => {
                            if !self.handle_client(text.as_str()).await {
                                return None;
                            }
                        }
                        Message::Pong(_) | Message::Ping(_) => {
                            self.live.presence.heartbeat(self.account, self.device).await;
                        }
                        Message::Binary(_) => {
                            if !self.send_text(bad_message()).await {
                                return None;
                            }
                        }
                        Message::Close(_) => return None,
                    }
                }
                _ = pings.tick() => {
                    if last_received.elapsed() >= config.receive_timeout {
                        return Some((1001, "timeout"));
                    }
                    if self.socket.send(Message::Ping(Default::default())).await.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    fn is_duplicate(&mut self, message: &LiveMessage) -> bool {
        let LiveMessage::Notification { cursor, .. } = message else {
            return false;
        };
        self.floor.as_deref() == Some(&**cursor) || self.replayed.remove(&**cursor)
    }

    /// Handles one client frame; false when the socket failed.
    async fn handle_client(&mut self, text: &str) -> bool {
        let Ok(message) = serde_json::from_str::<ClientMessage>(text) else {
            return self.send_text(bad_message()).await;
        };
        let presence = &self.live.presence;
        match message {
            ClientMessage::Heartbeat => presence.heartbeat(self.account, self.device).await,
            ClientMessage::Activity => presence.activity(self.account, self.device).await,
            ClientMessage::Availability { value } => {
                presence.set_availability(self.account, value).await;
            }
            ClientMessage::Ack { cursor } => {
                presence.activity(self.account, self.device).await;
                if let Err(e) = self
                    .live
                    .source
                    .ack(self.account, self.device, &cursor)
                    .await
                {
                    tracing::warn!(account = %self.account, error = %e, "live: ack not recorded");
                }
            }
        }
        true
    }

    async fn send_text(&mut self, text: String) -> bool {
        self.socket
            .send(Message::Text(Utf8Bytes::from(text)))
            .await
            .is_ok()
    }
}

/// WebSocket close code for a replay failure: 4400 for the client's bad cursor, 1011
/// (internal error) when the store failed.
fn close_code(e: SourceError) -> u16 {
    match e {
        SourceError::InvalidCursor => 4400,
        SourceError::Unavailable => 1011,
    }
}

fn bad_message() -> String {
    serde_json::json!({ "type": "error", "code": "bad_message" }).to_string()
}

/// Longest wait for a close handshake with a client that may not be reading.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

async fn close(mut socket: WebSocket, reason: CloseReason) {
    let handshake = async move {
        if let Some((code, reason)) = reason {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            let _ = socket.send(Message::Close(Some(frame))).await;
        }
        let _ = socket.close().await;
    };
    // On timeout the socket is dropped, which closes the connection.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, handshake).await;
}
