//! Presence (awareness): one owner task per online account.
//!
//! The actor pattern of DESIGN.md §4: [`PresenceHandle`] keeps a registry mapping each
//! online account to the `mpsc::Sender` of its actor. The first sign of life spawns
//! the actor; every change is a message to it; expiry, idleness and coalescing are its
//! own `tokio::time` timers; it ends itself once the account is offline and that has
//! been published. No other code reads or writes an account's presence.
//!
//! Rules:
//! - Connection presence lasts [`PresenceConfig::expiry`] (default 45 s) after the
//!   last sign of life (heartbeat, connect, activity, availability change, pong).
//!   When the last device disconnects cleanly it lasts at most
//!   [`PresenceConfig::disconnect_grace`] more, so a reconnect does not flap.
//! - A call role other than [`CallRole::None`] keeps the account online: the call's
//!   owner tells us when it ends.
//! - Availability shows `idle` after [`PresenceConfig::idle_after`] (5 min) without
//!   user activity, when the user's choice is `available` and they are not talking.
//! - Group members ([`Audience`]) receive transitions only, coalesced: after a change,
//!   the actor waits [`PresenceConfig::coalesce`] (250 ms) and publishes the final state
//!   if it differs from the last one published.
//! - Availability and call role live only while the account is online; an account
//!   that comes back starts `available` (clients re-send their choice on connect).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

pub use super::state::{Availability, CallRole, PresenceEvent, PresenceState, Status};
use super::{BoxFuture, Hub, LiveMessage};

/// Who is told about an account's presence (implemented by the store from group
/// memberships: every member of every group the account belongs to).
pub trait Audience: Send + Sync {
    /// The accounts watching `account`.
    fn watchers(&self, account: Uuid) -> BoxFuture<'_, Vec<Uuid>>;
}

/// Presence timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceConfig {
    /// Connection presence lasts this long after the last sign of life (30–60 s).
    pub expiry: Duration,
    /// After the last device disconnects, presence lasts at most this long more.
    pub disconnect_grace: Duration,
    /// No user activity for this long shows `idle`.
    pub idle_after: Duration,
    /// Changes within this window are published as one message.
    pub coalesce: Duration,
    /// Capacity of each actor's mailbox.
    pub mailbox: usize,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self {
            expiry: Duration::from_secs(45),
            disconnect_grace: Duration::from_secs(10),
            idle_after: Duration::from_secs(5 * 60),
            coalesce: Duration::from_millis(250),
            mailbox: 64,
        }
    }
}

/// Longest wait for [`Audience::watchers`] or the [`PresenceMirror`] before the
/// actor moves on (a transition is skipped; the next one corrects it).
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// A shared, expiring copy of every online account's published presence, so that any
/// node can answer for an account whose actor runs on another node (Redis in a
/// deployment: [`super::fanout::RedisPresence`]).
pub trait PresenceMirror: Send + Sync {
    /// Keeps `state` for `ttl`; an offline state removes the entry.
    fn save(&self, account: Uuid, state: PresenceState, ttl: Duration) -> BoxFuture<'_, ()>;
    /// The kept state, if any.
    fn load(&self, account: Uuid) -> BoxFuture<'_, Option<PresenceState>>;
}

enum Command {
    Event(PresenceEvent),
    Get(oneshot::Sender<PresenceState>),
}

struct Entry {
    generation: u64,
    tx: mpsc::Sender<Command>,
}

struct Inner {
    registry: Mutex<HashMap<Uuid, Entry>>,
    next_generation: AtomicU64,
    config: PresenceConfig,
    hub: Hub,
    audience: Arc<dyn Audience>,
    mirror: Option<Arc<dyn PresenceMirror>>,
}

impl Inner {
    fn registry(&self) -> MutexGuard<'_, HashMap<Uuid, Entry>> {
        // Every critical section is a single map operation: poisoning cannot leave
        // the map inconsistent.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The presence service; see [`Presence::spawn`].
#[derive(Debug, Clone, Copy)]
pub struct Presence;

impl Presence {
    /// Starts the presence service. Transitions go to `audience.watchers(account)`
    /// through `hub`. Must be called inside a tokio runtime (actors are tasks).
    pub fn spawn(config: PresenceConfig, hub: Hub, audience: Arc<dyn Audience>) -> PresenceHandle {
        Self::build(config, hub, audience, None)
    }

    /// [`Presence::spawn`] for a node among several: each actor also keeps its
    /// published state in `mirror` (expiring after [`PresenceConfig::expiry`], refreshed
    /// while online), and [`PresenceHandle::get`] answers from the mirror for accounts
    /// whose actor runs on another node.
    pub fn spawn_mirrored(
        config: PresenceConfig,
        hub: Hub,
        audience: Arc<dyn Audience>,
        mirror: Arc<dyn PresenceMirror>,
    ) -> PresenceHandle {
        Self::build(config, hub, audience, Some(mirror))
    }

    fn build(
        config: PresenceConfig,
        hub: Hub,
        audience: Arc<dyn Audience>,
        mirror: Option<Arc<dyn PresenceMirror>>,
    ) -> PresenceHandle {
        PresenceHandle {
            inner: Arc::new(Inner {
                registry: Mutex::new(HashMap::new()),
                next_generation: AtomicU64::new(0),
                config: PresenceConfig {
                    mailbox: config.mailbox.max(1),
                    ..config
                },
                hub,
                audience,
                mirror,
            }),
        }
    }
}

/// The way to talk to presence actors. Cheap to clone.
#[derive(Clone)]
pub struct PresenceHandle {
    inner: Arc<Inner>,
}

impl fmt::Debug for PresenceHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresenceHandle")
            .field("config", &self.inner.config)
            .field("actors", &self.actors())
            .finish_non_exhaustive()
    }
}

impl PresenceHandle {
    /// Delivers `event` to `account`'s actor, spawning it if the event is a sign of
    /// life. Waits only if the actor's mailbox is full.
    pub async fn send(&self, account: Uuid, event: PresenceEvent) {
        let mut command = Command::Event(event);
        loop {
            let Some(tx) = self.sender(account, event.spawns()) else {
                return;
            };
            match tx.send(command).await {
                Ok(()) => return,
                Err(mpsc::error::SendError(returned)) => {
                    // The actor ended between our lookup and the send: it has
                    // already left the registry (or died); forget it and retry.
                    self.forget(account, &tx);
                    command = returned;
                }
            }
        }
    }

    /// `device` is alive.
    pub async fn heartbeat(&self, account: Uuid, device: Uuid) {
        self.send(account, PresenceEvent::Heartbeat { device })
            .await;
    }

    /// The user did something on `device`.
    pub async fn activity(&self, account: Uuid, device: Uuid) {
        self.send(account, PresenceEvent::Activity { device }).await;
    }

    /// `device` opened a live connection.
    pub async fn connected(&self, account: Uuid, device: Uuid) {
        self.send(account, PresenceEvent::Connected { device })
            .await;
    }

    /// `device`'s live connection ended.
    pub async fn disconnected(&self, account: Uuid, device: Uuid) {
        self.send(account, PresenceEvent::Disconnected { device })
            .await;
    }

    /// The user chose `availability`.
    pub async fn set_availability(&self, account: Uuid, availability: Availability) {
        self.send(account, PresenceEvent::SetAvailability(availability))
            .await;
    }

    /// The call's owner changed `account`'s role.
    pub async fn set_call_role(&self, account: Uuid, role: CallRole) {
        self.send(account, PresenceEvent::SetCallRole(role)).await;
    }

    /// `account`'s current presence (asks its actor; offline if it has none).
    pub async fn get(&self, account: Uuid) -> PresenceState {
        let Some(tx) = self.sender(account, false) else {
            let Some(mirror) = &self.inner.mirror else {
                return PresenceState::OFFLINE;
            };
            let load = tokio::time::timeout(STORE_TIMEOUT, mirror.load(account)).await;
            return load.ok().flatten().unwrap_or(PresenceState::OFFLINE);
        };
        let (reply, answer) = oneshot::channel();
        if tx.send(Command::Get(reply)).await.is_err() {
            return PresenceState::OFFLINE;
        }
        answer.await.unwrap_or(PresenceState::OFFLINE)
    }

    /// Whether `account` has a running actor.
    pub fn is_running(&self, account: Uuid) -> bool {
        self.inner.registry().contains_key(&account)
    }

    /// How many actors are running (one per online account).
    pub fn actors(&self) -> usize {
        self.inner.registry().len()
    }

    fn sender(&self, account: Uuid, spawn: bool) -> Option<mpsc::Sender<Command>> {
        let mut registry = self.inner.registry();
        if let Some(entry) = registry.get(&account) {
            return Some(entry.tx.clone());
        }
        if !spawn {
            return None;
        }
        let (tx, rx) = mpsc::channel(self.inner.config.mailbox);
        let generation = self.inner.next_generation.fetch_add(1, Ordering::Relaxed);
        registry.insert(
            account,
            Entry {
                generation,
                tx: tx.clone(),
            },
        );
        drop(registry);
        let actor = Actor::new(account, generation, rx, self.clone(), Instant::now());
        tokio::spawn(actor.run());
        Some(tx)
    }

    fn forget(&self, account: Uuid, stale: &mpsc::Sender<Command>) {
        let mut registry = self.inner.registry();
        if registry
            .get(&account)
            .is_some_and(|e| e.tx.same_channel(stale))
        {
            registry.remove(&account);
        }
    }
}

/// The owner of one account's presence.
struct Actor {
    account: Uuid,
    generation: u64,
    rx: mpsc::Receiver<Command>,
    handle: PresenceHandle,
    config: PresenceConfig,
    /// Open live connections per device.
    devices: HashMap<Uuid, u32>,
    /// Online until then (unless in a call).
    deadline: Instant,
    last_activity: Instant,
    availability: Availability,
    call: CallRole,
    /// The last state published to watchers.
    published: PresenceState,
    /// When the pending coalesced publication is due.
    flush_at: Option<Instant>,
    /// When the mirrored state must be refreshed (while online and mirrored).
    mirror_at: Option<Instant>,
}

impl Actor {
    fn new(
        account: Uuid,
        generation: u64,
        rx: mpsc::Receiver<Command>,
        handle: PresenceHandle,
        now: Instant,
    ) -> Self {
        let config = handle.inner.config;
        Self {
            account,
            generation,
            rx,
            handle,
            config,
            devices: HashMap::new(),
            deadline: now,
            last_activity: now,
            availability: Availability::Available,
            call: CallRole::None,
            published: PresenceState::OFFLINE,
            flush_at: None,
            mirror_at: None,
        }
    }

    fn state(&self, now: Instant) -> PresenceState {
        let online = now < self.deadline || self.call != CallRole::None;
        if !online {
            return PresenceState::OFFLINE;
        }
        // Someone talking in a call is not idle, however long they talk.
        let idle = now >= self.last_activity + self.config.idle_after
            && !matches!(self.call, CallRole::Talking { .. });
        let availability = match self.availability {
            Availability::Available if idle => Status::Idle,
            Availability::Available => Status::Available,
            Availability::Busy => Status::Busy,
            Availability::Away => Status::Away,
        };
        PresenceState {
            online,
            availability,
            call: self.call,
        }
    }

    /// The next moment the state may change on its own, or a flush is due.
    fn next_wake(&self, now: Instant) -> Option<Instant> {
        let current = self.state(now);
        let mut wake = self.flush_at;
        let mut consider = |t: Instant| {
            if t > now {
                wake = Some(wake.map_or(t, |w| w.min(t)));
            }
        };
        if let Some(t) = self.mirror_at {
            consider(t);
        }
        if current.online && self.call == CallRole::None {
            consider(self.deadline);
        }
        if current.availability == Status::Available {
            consider(self.last_activity + self.config.idle_after);
        }
        wake
    }

    fn alive(&mut self, now: Instant) {
        self.deadline = self.deadline.max(now + self.config.expiry);
    }

    fn handle_event(&mut self, event: PresenceEvent, now: Instant) {
        match event {
            PresenceEvent::Heartbeat { .. } => self.alive(now),
            PresenceEvent::Activity { .. } => {
                self.alive(now);
                self.last_activity = now;
            }
            PresenceEvent::Connected { device } => {
                *self.devices.entry(device).or_default() += 1;
                self.alive(now);
                self.last_activity = now;
            }
            PresenceEvent::Disconnected { device } => {
                if let Some(count) = self.devices.get_mut(&device) {
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        self.devices.remove(&device);
                    }
                }
                if self.devices.is_empty() {
                    self.deadline = self.deadline.min(now + self.config.disconnect_grace);
                }
            }
            PresenceEvent::SetAvailability(availability) => {
                self.availability = availability;
                self.alive(now);
                self.last_activity = now;
            }
            PresenceEvent::SetCallRole(role) => {
                let talking = |r: CallRole| matches!(r, CallRole::Talking { .. });
                if talking(role) || talking(self.call) {
                    // Starting or stopping to talk is the user's doing.
                    self.last_activity = now;
                }
                self.call = role;
                if role == CallRole::None {
                    // Leaving a call is a sign of life of the device that left.
                    self.alive(now);
                }
            }
        }
    }

    async fn run(mut self) {
        loop {
            let now = Instant::now();
            let wake = self.next_wake(now);
            let woke = tokio::select! {
                command = self.rx.recv() => Wake::Command(command),
                () = sleep_until(wake) => Wake::Timer,
            };
            let now = Instant::now();
            match woke {
                Wake::Command(Some(Command::Event(event))) => self.handle_event(event, now),
                Wake::Command(Some(Command::Get(reply))) => {
                    let _ = reply.send(self.state(now));
                }
                // Every sender is gone: nobody can reach this actor any more.
                Wake::Command(None) => return,
                Wake::Timer => {}
            }
            let current = self.state(now);
            if current != self.published && self.flush_at.is_none() {
                self.flush_at = Some(now + self.config.coalesce);
            }
            if self.mirror_at.is_some_and(|t| t <= now) {
                self.save_mirror(self.published, now).await;
            }
            if self.flush_at.is_some_and(|t| t <= now) {
                self.flush_at = None;
                if current != self.published {
                    self.publish(current).await;
                    self.save_mirror(current, now).await;
                }
                if !current.online && self.end().await {
                    return;
                }
            }
        }
    }

    async fn publish(&mut self, state: PresenceState) {
        self.published = state;
        // A stuck store must not stall the actor (and every session waiting on its
        // mailbox): watchers miss this transition, the next one corrects it.
        let lookup = self.handle.inner.audience.watchers(self.account);
        let Ok(watchers) = tokio::time::timeout(STORE_TIMEOUT, lookup).await else {
            tracing::warn!(account = %self.account, "presence: audience lookup timed out");
            return;
        };
        let message = LiveMessage::Presence {
            account: self.account,
            state,
        };
        self.handle.inner.hub.publish_to(&watchers, &message);
    }

    /// Writes `state` to the mirror (if any) and schedules its refresh.
    async fn save_mirror(&mut self, state: PresenceState, now: Instant) {
        let Some(mirror) = self.handle.inner.mirror.clone() else {
            return;
        };
        let ttl = self.config.expiry;
        let save = mirror.save(self.account, state, ttl);
        if tokio::time::timeout(STORE_TIMEOUT, save).await.is_err() {
            tracing::warn!(account = %self.account, "presence: mirror write timed out");
        }
        // Refresh well before the entry expires; a node that dies stops refreshing
        // and its accounts fade out within one expiry.
        self.mirror_at = state.online.then(|| now + ttl / 3);
    }

    /// Leaves the registry and stops, unless messages are waiting. Messages that
    /// raced with the shutdown are handed to a new actor. Returns whether it ended.
    async fn end(&mut self) -> bool {
        {
            let mut registry = self.handle.inner.registry();
            if !self.rx.is_empty() {
                return false;
            }
            if registry
                .get(&self.account)
                .is_some_and(|e| e.generation == self.generation)
            {
                registry.remove(&self.account);
            }
            self.rx.close();
        }
        while let Ok(command) = self.rx.try_recv() {
            match command {
                Command::Event(event) => self.handle.send(self.account, event).await,
                Command::Get(reply) => {
                    let _ = reply.send(PresenceState::OFFLINE);
                }
            }
        }
        true
    }
}

enum Wake {
    Command(Option<Command>),
    Timer,
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
