//! Cross-node fan-out of live messages through Redis pub/sub, and expiring presence
//! in Redis (DESIGN.md §4).
//!
//! With several `talkod` nodes behind one address, a notification created on node A
//! must reach a device whose WebSocket is held by node B. [`RedisFanout::start`]
//! attaches a node's [`Hub`] to a Redis channel: every [`Hub::publish`] is delivered
//! locally *and* published on the channel; every message another node published is
//! delivered to this node's devices (a node skips its own messages by node id).
//!
//! Loss rules: Redis pub/sub is at-most-once. When this node's subscription breaks,
//! every local session is ended with [`DisconnectReason::Resync`], so clients
//! reconnect with their cursor and the store replays what the outage swallowed.
//! Presence transitions are not replayed (the next transition corrects them).
//! [`RedisPresence`] keeps each online account's published state under an expiring
//! key, so any node can answer a presence query. Presence *ownership* stays per node:
//! an account with devices on two nodes has an actor on each, and watchers may see
//! both nodes' view of it.
//!
//! Must never block [`Hub::publish`]: messages go to the publisher task through a
//! bounded queue; when Redis cannot keep up they are dropped and counted.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::hub::{DisconnectReason, Hub};
use super::presence::PresenceMirror;
use super::{BoxFuture, LiveMessage, PresenceState};

/// Fan-out settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanoutConfig {
    /// `redis://host:port/` of the shared Redis.
    pub url: String,
    /// The pub/sub channel all nodes of one deployment share.
    pub channel: String,
    /// Messages waiting for the publisher before new ones are dropped.
    pub queue: usize,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379/".to_owned(),
            channel: "talko:live".to_owned(),
            queue: 4096,
        }
    }
}

/// Why the fan-out could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanoutError {
    /// The URL is not a Redis URL.
    BadUrl,
    /// Redis did not answer.
    Unavailable,
    /// This hub already has a fan-out attached.
    AlreadyAttached,
}

impl fmt::Display for FanoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadUrl => "not a valid Redis URL",
            Self::Unavailable => "Redis is unavailable",
            Self::AlreadyAttached => "the hub already fans out",
        })
    }
}

impl std::error::Error for FanoutError {}

#[derive(Debug, Default)]
struct Stats {
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    resyncs: AtomicU64,
}

/// A running fan-out; dropping it does not stop it (it lives as long as the process).
#[derive(Debug, Clone)]
pub struct RedisFanout {
    node: Uuid,
    stats: Arc<Stats>,
}

/// One message on the wire between nodes.
fn encode(node: Uuid, account: Uuid, message: &LiveMessage) -> String {
    json!({ "node": node, "account": account, "message": message.to_value() }).to_string()
}

fn decode(payload: &[u8]) -> Option<(Uuid, Uuid, LiveMessage)> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let node = Uuid::parse_str(value.get("node")?.as_str()?).ok()?;
    let account = Uuid::parse_str(value.get("account")?.as_str()?).ok()?;
    let message = LiveMessage::from_value(value.get("message")?)?;
    Some((node, account, message))
}

impl RedisFanout {
    /// Subscribes to the channel (before returning, so nothing published afterwards is
    /// missed), then attaches `hub`. Must be called inside a tokio runtime.
    pub async fn start(config: FanoutConfig, hub: &Hub) -> Result<Self, FanoutError> {
        let client = redis::Client::open(config.url.as_str()).map_err(|_| FanoutError::BadUrl)?;
        let pubsub = subscribe(&client, &config.channel).await?;
        let publisher = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|_| FanoutError::Unavailable)?;
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        if !hub.attach_remote(tx) {
            return Err(FanoutError::AlreadyAttached);
        }
        let fanout = Self {
            node: Uuid::new_v4(),
            stats: Arc::default(),
        };
        tokio::spawn(publish_loop(
            fanout.clone(),
            client.clone(),
            publisher,
            config.channel.clone(),
            rx,
        ));
        tokio::spawn(subscribe_loop(
            fanout.clone(),
            client,
            pubsub,
            config.channel,
            hub.clone(),
        ));
        Ok(fanout)
    }

    /// This node's id on the channel.
    pub fn node(&self) -> Uuid {
        self.node
    }

    /// Messages published to other nodes.
    pub fn published(&self) -> u64 {
        self.stats.published.load(Ordering::Relaxed)
    }

    /// Messages received from other nodes.
    pub fn received(&self) -> u64 {
        self.stats.received.load(Ordering::Relaxed)
    }

    /// Messages that could not be published (Redis down or too slow).
    pub fn dropped(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }

    /// Times the subscription broke and local sessions were sent to resync.
    pub fn resyncs(&self) -> u64 {
        self.stats.resyncs.load(Ordering::Relaxed)
    }
}

async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> Result<redis::aio::PubSub, FanoutError> {
    let mut pubsub = client
        .get_async_pubsub()
        .await
        .map_err(|_| FanoutError::Unavailable)?;
    pubsub
        .subscribe(channel)
        .await
        .map_err(|_| FanoutError::Unavailable)?;
    Ok(pubsub)
}

const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

async fn publish_loop(
    fanout: RedisFanout,
    client: redis::Client,
    mut connection: redis::aio::MultiplexedConnection,
    channel: String,
    mut rx: mpsc::Receiver<(Uuid, LiveMessage)>,
) {
    while let Some((account, message)) = rx.recv().await {
        let payload = encode(fanout.node, account, &message);
        let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(&payload)
            .query_async(&mut connection)
            .await;
        match sent {
            Ok(_) => {
                fanout.stats.published.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                fanout.stats.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "live fan-out: publish failed; reconnecting");
                let mut wait = RETRY_MIN;
                loop {
                    tokio::time::sleep(wait).await;
                    match client.get_multiplexed_async_connection().await {
                        Ok(c) => {
                            connection = c;
                            break;
                        }
                        Err(_) => wait = (wait * 2).min(RETRY_MAX),
                    }
                }
            }
        }
    }
}

async fn subscribe_loop(
    fanout: RedisFanout,
    client: redis::Client,
    mut pubsub: redis::aio::PubSub,
    channel: String,
    hub: Hub,
) {
    loop {
        {
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let Some((node, account, message)) = decode(message.get_payload_bytes()) else {
                    tracing::warn!("live fan-out: undecodable message dropped");
                    continue;
                };
                if node == fanout.node {
                    continue;
                }
                fanout.stats.received.fetch_add(1, Ordering::Relaxed);
                hub.deliver_local(account, &message);
            }
        }
        // The subscription broke: whatever was published meanwhile is lost for our
        // devices, so they must resume from their cursors.
        fanout.stats.resyncs.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("live fan-out: subscription lost; sending local sessions to resync");
        hub.disconnect_all(DisconnectReason::Resync);
        let mut wait = RETRY_MIN;
        pubsub = loop {
            tokio::time::sleep(wait).await;
            match subscribe(&client, &channel).await {
                Ok(p) => break p,
                Err(_) => wait = (wait * 2).min(RETRY_MAX),
            }
        };
        // Sessions that connected during the outage saw nothing from other nodes.
        hub.disconnect_all(DisconnectReason::Resync);
    }
}

/// Expiring presence in Redis: the [`PresenceMirror`] of a multi-node deployment.
/// Each online account is a key `<prefix><account>` holding its published state as
/// JSON, with a TTL of the presence expiry (`SET … PX`), refreshed by its actor.
#[derive(Clone)]
pub struct RedisPresence {
    connection: redis::aio::MultiplexedConnection,
    prefix: Arc<str>,
}

impl fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisPresence")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisPresence {
    /// Connects to the Redis at `url`; keys are `<prefix><account>`
    /// (e.g. `talko:presence:`).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, FanoutError> {
        let client = redis::Client::open(url).map_err(|_| FanoutError::BadUrl)?;
        let connection = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|_| FanoutError::Unavailable)?;
        Ok(Self {
            connection,
            prefix: Arc::from(prefix),
        })
    }

    fn key(&self, account: Uuid) -> String {
        format!("{}{account}", self.prefix)
    }
}

impl PresenceMirror for RedisPresence {
    fn save(&self, account: Uuid, state: PresenceState, ttl: Duration) -> BoxFuture<'_, ()> {
        let mut connection = self.connection.clone();
        let key = self.key(account);
        Box::pin(async move {
            let result: redis::RedisResult<()> = if state.online {
                let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                let json = serde_json::to_string(&state).unwrap_or_default();
                redis::cmd("SET")
                    .arg(&key)
                    .arg(json)
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut connection)
                    .await
            } else {
                redis::cmd("DEL")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, %account, "presence mirror: write failed");
            }
        })
    }

    fn load(&self, account: Uuid) -> BoxFuture<'_, Option<PresenceState>> {
        let mut connection = self.connection.clone();
        let key = self.key(account);
        Box::pin(async move {
            let value: Option<String> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .ok()?;
            serde_json::from_str(&value?).ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};
    use crate::live::{CallRole, LiveMessage, PresenceState, Status};
    use uuid::Uuid;

    #[test]
    fn wire_format_round_trips_both_kinds() {
        let (node, account) = (Uuid::new_v4(), Uuid::new_v4());
        let messages = [
            LiveMessage::notification("c1", serde_json::json!({"kind": "mention", "n": [1, 2]})),
            LiveMessage::Presence {
                account: Uuid::new_v4(),
                state: PresenceState {
                    online: true,
                    availability: Status::Away,
                    call: CallRole::Replaying {
                        call: Uuid::new_v4(),
                    },
                },
            },
        ];
        for message in messages {
            let wire = encode(node, account, &message);
            assert_eq!(decode(wire.as_bytes()), Some((node, account, message)));
        }
    }

    #[test]
    fn garbage_on_the_channel_is_rejected() {
        for payload in [
            &b""[..],
            b"{}",
            b"[1]",
            b"\xff\xfe",
            br#"{"node":"x","account":"y","message":{}}"#,
        ] {
            assert_eq!(decode(payload), None);
        }
    }
}
