//! The registry of connected devices per account, and fan-out to them.
//!
//! `publish` never waits: each device has a bounded queue and a message that does
//! not fit disconnects that device ([`DisconnectReason::SlowConsumer`]). The client
//! reconnects with its cursor and the store replays what it missed, so a slow device
//! costs itself a reconnect and costs everyone else nothing. The lock is held only
//! for map operations and `try_send`, never across an `.await`.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use tokio::sync::mpsc;
use uuid::Uuid;

use super::LiveMessage;

/// Hub settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubConfig {
    /// Messages queued per device before the device counts as a slow consumer.
    pub queue: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self { queue: 256 }
    }
}

/// Why the hub ended a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The device's queue was full: it did not read fast enough.
    SlowConsumer,
    /// The same device connected again; the newer connection wins.
    Replaced,
    /// Messages from other nodes may have been lost: resume from the cursor.
    Resync,
}

impl DisconnectReason {
    /// A stable code, used as the WebSocket close reason.
    pub fn code(self) -> &'static str {
        match self {
            Self::SlowConsumer => "slow_consumer",
            Self::Replaced => "replaced",
            Self::Resync => "resync",
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SlowConsumer => "the device did not keep up with its messages",
            Self::Replaced => "the device opened a newer connection",
            Self::Resync => "cross-node delivery was interrupted; resume from the cursor",
        })
    }
}

impl std::error::Error for DisconnectReason {}

struct Conn {
    device: Uuid,
    id: u64,
    tx: mpsc::Sender<LiveMessage>,
    reason: Arc<OnceLock<DisconnectReason>>,
}

#[derive(Default)]
struct Inner {
    accounts: Mutex<HashMap<Uuid, Vec<Conn>>>,
    next_id: AtomicU64,
    slow_disconnects: AtomicU64,
    config: HubConfig,
    /// Where messages for other nodes go (see `super::fanout`).
    remote: OnceLock<mpsc::Sender<(Uuid, LiveMessage)>>,
    remote_drops: AtomicU64,
}

impl Inner {
    fn accounts(&self) -> MutexGuard<'_, HashMap<Uuid, Vec<Conn>>> {
        // A panic while holding this lock leaves the map consistent (every
        // operation is a single insert/retain), so poisoning is ignored.
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The registry of connected devices. Cheap to clone; all clones share one registry.
#[derive(Clone, Default)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub with `config`.
    pub fn new(config: HubConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config: HubConfig {
                    queue: config.queue.max(1),
                },
                ..Inner::default()
            }),
        }
    }

    /// Registers `device` of `account`. A previous connection of the same device is
    /// ended with [`DisconnectReason::Replaced`]. Dropping the subscription
    /// unregisters it.
    pub fn connect(&self, account: Uuid, device: Uuid) -> Subscription {
        let (tx, rx) = mpsc::channel(self.inner.config.queue.max(1));
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let reason = Arc::new(OnceLock::new());
        let mut accounts = self.inner.accounts();
        let conns = accounts.entry(account).or_default();
        conns.retain(|c| {
            if c.device == device {
                let _ = c.reason.set(DisconnectReason::Replaced);
                false
            } else {
                true
            }
        });
        conns.push(Conn {
            device,
            id,
            tx,
            reason: Arc::clone(&reason),
        });
        drop(accounts);
        Subscription {
            rx,
            account,
            device,
            id,
            reason,
            hub: Arc::downgrade(&self.inner),
        }
    }

    /// Hands `message` to every connected device of `account`, without waiting, on
    /// this node and (when a fan-out is attached) on every other node. Returns the
    /// number of local devices it was queued for. Devices whose queue is full are
    /// disconnected ([`DisconnectReason::SlowConsumer`]).
    pub fn publish(&self, account: Uuid, message: &LiveMessage) -> usize {
        if let Some(remote) = self.inner.remote.get() {
            if remote.try_send((account, message.clone())).is_err() {
                self.inner.remote_drops.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.deliver_local(account, message)
    }

    /// [`Hub::publish`] to this node's devices only (for messages from other nodes).
    pub fn deliver_local(&self, account: Uuid, message: &LiveMessage) -> usize {
        let mut accounts = self.inner.accounts();
        let Some(conns) = accounts.get_mut(&account) else {
            return 0;
        };
        let mut delivered = 0;
        conns.retain(|c| match c.tx.try_send(message.clone()) {
            Ok(()) => {
                delivered += 1;
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                let _ = c.reason.set(DisconnectReason::SlowConsumer);
                self.inner.slow_disconnects.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%account, device = %c.device, "live: slow consumer disconnected");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        if conns.is_empty() {
            accounts.remove(&account);
        }
        delivered
    }

    /// [`Hub::publish`] to each of `accounts`; returns the total number of devices.
    pub fn publish_to(&self, accounts: &[Uuid], message: &LiveMessage) -> usize {
        accounts.iter().map(|a| self.publish(*a, message)).sum()
    }

    /// Ends every subscription on this node with `reason`.
    pub fn disconnect_all(&self, reason: DisconnectReason) {
        let mut accounts = self.inner.accounts();
        for conn in accounts.values().flatten() {
            let _ = conn.reason.set(reason);
        }
        accounts.clear();
    }

    /// Attaches the queue of a cross-node fan-out; false if one is attached already.
    pub(crate) fn attach_remote(&self, tx: mpsc::Sender<(Uuid, LiveMessage)>) -> bool {
        self.inner.remote.set(tx).is_ok()
    }

    /// Messages not handed to the cross-node fan-out because its queue was full.
    pub fn remote_drops(&self) -> u64 {
        self.inner.remote_drops.load(Ordering::Relaxed)
    }

    /// How many devices of `account` are connected.
    pub fn devices(&self, account: Uuid) -> usize {
        self.inner.accounts().get(&account).map_or(0, Vec::len)
    }

    /// How many devices were disconnected for not keeping up, since start.
    pub fn slow_disconnects(&self) -> u64 {
        self.inner.slow_disconnects.load(Ordering::Relaxed)
    }
}

/// One device's connection to the hub: a bounded queue of [`LiveMessage`]s.
pub struct Subscription {
    rx: mpsc::Receiver<LiveMessage>,
    account: Uuid,
    device: Uuid,
    id: u64,
    reason: Arc<OnceLock<DisconnectReason>>,
    hub: Weak<Inner>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("account", &self.account)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// The next message. `None` once the hub ended this subscription (then
    /// [`Subscription::disconnect_reason`] says why) or the hub is gone.
    pub async fn recv(&mut self) -> Option<LiveMessage> {
        self.rx.recv().await
    }

    /// The next message if one is queued.
    pub fn try_recv(&mut self) -> Option<LiveMessage> {
        self.rx.try_recv().ok()
    }

    /// Why the hub ended this subscription, if it did.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        self.reason.get().copied()
    }

    /// The account this subscription belongs to.
    pub fn account(&self) -> Uuid {
        self.account
    }

    /// The device this subscription belongs to.
    pub fn device(&self) -> Uuid {
        self.device
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(inner) = self.hub.upgrade() else {
            return;
        };
        let mut accounts = inner.accounts();
        if let Some(conns) = accounts.get_mut(&self.account) {
            conns.retain(|c| c.id != self.id);
            if conns.is_empty() {
                accounts.remove(&self.account);
            }
        }
    }
}
