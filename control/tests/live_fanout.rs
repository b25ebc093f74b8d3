//! Cross-node delivery through the real Redis on 127.0.0.1:6379 (DESIGN.md §4): two
//! hubs stand for two `talkod` nodes sharing one channel.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use talko_control::live::{
    Audience, Availability, BoxFuture, FanoutConfig, FanoutError, Hub, LiveMessage, Presence,
    PresenceConfig, PresenceMirror, PresenceState, RedisFanout, RedisPresence, Status,
    Subscription,
};
use uuid::Uuid;

fn config() -> FanoutConfig {
    FanoutConfig {
        url: std::env::var("TALKO_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into()),
        // A channel per test: tests run in parallel and must not hear each other.
        channel: format!("talko:test:{}", Uuid::new_v4()),
        ..FanoutConfig::default()
    }
}

async fn node(config: &FanoutConfig) -> (Hub, RedisFanout) {
    let hub = Hub::default();
    let fanout = RedisFanout::start(config.clone(), &hub)
        .await
        .expect("Redis must be running on 127.0.0.1:6379 (or TALKO_REDIS_URL)");
    (hub, fanout)
}

async fn recv_within(sub: &mut Subscription, limit: Duration) -> LiveMessage {
    tokio::time::timeout(limit, sub.recv())
        .await
        .expect("message in time")
        .expect("subscription open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_published_on_one_node_reaches_devices_on_the_other_once() {
    let config = config();
    let (a, fanout_a) = node(&config).await;
    let (b, fanout_b) = node(&config).await;
    assert_ne!(fanout_a.node(), fanout_b.node());
    let account = Uuid::new_v4();
    let mut on_a = a.connect(account, Uuid::new_v4());
    let mut on_b = b.connect(account, Uuid::new_v4());

    for i in 0..5 {
        let cursor = format!("c{i}");
        let message = LiveMessage::notification(&cursor, json!({ "kind": "mention", "i": i }));
        let sent = Instant::now();
        assert_eq!(a.publish(account, &message), 1);
        assert_eq!(
            recv_within(&mut on_a, Duration::from_secs(1)).await,
            message
        );
        assert_eq!(
            recv_within(&mut on_b, Duration::from_secs(2)).await,
            message
        );
        let latency = sent.elapsed();
        assert!(
            latency < Duration::from_millis(100),
            "cross-node latency {latency:?}"
        );
    }
    // A node ignores its own messages coming back from Redis: nothing doubled.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(on_a.try_recv().is_none());
    assert!(on_b.try_recv().is_none());
    assert_eq!(fanout_a.published(), 5);
    assert_eq!(fanout_b.received(), 5);
    assert_eq!(fanout_a.received(), 0);
}

struct Peers(HashMap<Uuid, Vec<Uuid>>);

impl Audience for Peers {
    fn watchers(&self, account: Uuid) -> BoxFuture<'_, Vec<Uuid>> {
        let w = self.0.get(&account).cloned().unwrap_or_default();
        Box::pin(async move { w })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_transitions_reach_watchers_on_another_node() {
    let config = config();
    let (a, _fa) = node(&config).await;
    let (b, _fb) = node(&config).await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let presence = Presence::spawn(
        PresenceConfig::default(),
        a.clone(),
        Arc::new(Peers(HashMap::from([(alice, vec![bob])]))),
    );
    let mut bob_on_b = b.connect(bob, Uuid::new_v4());
    presence.set_availability(alice, Availability::Busy).await;
    match recv_within(&mut bob_on_b, Duration::from_secs(2)).await {
        LiveMessage::Presence { account, state } => {
            assert_eq!(account, alice);
            assert!(state.online);
            assert_eq!(state.availability, Status::Busy);
        }
        other => panic!("expected presence, got {other:?}"),
    }
}

#[tokio::test]
async fn a_hub_takes_one_fanout_and_bad_urls_are_refused() {
    let config = config();
    let (hub, _f) = node(&config).await;
    assert_eq!(
        RedisFanout::start(config.clone(), &hub).await.map(|_| ()),
        Err(FanoutError::AlreadyAttached)
    );
    let bad = FanoutConfig {
        url: "http://not-redis".into(),
        ..config.clone()
    };
    assert_eq!(
        RedisFanout::start(bad, &Hub::default()).await.map(|_| ()),
        Err(FanoutError::BadUrl)
    );
    let closed = FanoutConfig {
        url: "redis://127.0.0.1:1/".into(),
        ..config
    };
    assert_eq!(
        RedisFanout::start(closed, &Hub::default())
            .await
            .map(|_| ()),
        Err(FanoutError::Unavailable)
    );
}

async fn mirror() -> Arc<RedisPresence> {
    let url = config().url;
    // A key prefix per test: tests run in parallel.
    let prefix = format!("talko:test:presence:{}:", Uuid::new_v4());
    Arc::new(
        RedisPresence::connect(&url, &prefix)
            .await
            .expect("Redis must be running on 127.0.0.1:6379 (or TALKO_REDIS_URL)"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_node_answers_presence_for_an_account_whose_actor_runs_elsewhere() {
    let mirror = mirror().await;
    let config = PresenceConfig {
        expiry: Duration::from_millis(600),
        disconnect_grace: Duration::from_millis(600),
        coalesce: Duration::from_millis(50),
        ..PresenceConfig::default()
    };
    let nobody = || Arc::new(Peers(HashMap::new()));
    let a = Presence::spawn_mirrored(config, Hub::default(), nobody(), mirror.clone());
    let b = Presence::spawn_mirrored(config, Hub::default(), nobody(), mirror.clone());
    let (alice, device) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(b.get(alice).await, PresenceState::OFFLINE);

    a.heartbeat(alice, device).await;
    a.set_availability(alice, Availability::Away).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!b.is_running(alice), "node B runs no actor for Alice");
    let seen = b.get(alice).await;
    assert!(seen.online);
    assert_eq!(seen.availability, Status::Away);

    // Heartbeats on A for three times the expiry: the mirrored entry is refreshed,
    // although nothing changes (no transition, no publication).
    for _ in 0..9 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        a.heartbeat(alice, device).await;
    }
    assert!(b.get(alice).await.online);

    // Silence: A's actor expires Alice, publishes offline and clears the entry.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(!a.is_running(alice));
    assert_eq!(b.get(alice).await, PresenceState::OFFLINE);
}

#[tokio::test]
async fn a_mirrored_entry_fades_when_its_node_stops_refreshing_it() {
    let mirror = mirror().await;
    let account = Uuid::new_v4();
    let state = PresenceState {
        online: true,
        availability: Status::Busy,
        call: talko_control::live::CallRole::None,
    };
    mirror
        .save(account, state, Duration::from_millis(300))
        .await;
    assert_eq!(mirror.load(account).await, Some(state));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mirror.load(account).await, None);
    mirror.save(account, state, Duration::from_secs(30)).await;
    mirror
        .save(account, PresenceState::OFFLINE, Duration::from_secs(30))
        .await;
    assert_eq!(mirror.load(account).await, None);
}
