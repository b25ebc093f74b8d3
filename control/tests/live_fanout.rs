//! Cross-node delivery through the real Redis on 127.0.0.1:6379 (DESIGN.md §4): two
//! hubs stand for two `talkod` nodes sharing one channel.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use talko_control::live::{
    Audience, Availability, BoxFuture, FanoutConfig, FanoutError, Hub, LiveMessage, Presence,
    PresenceConfig, RedisFanout, Status, Subscription,
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
