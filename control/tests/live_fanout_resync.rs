//! When a node loses its Redis subscription, its devices are sent to resume from their
//! cursors (pub/sub is at-most-once), and delivery works again after it resubscribes.
//!
//! Alone in its own test binary: it kills every pub/sub client of the Redis server.

use std::time::Duration;

use serde_json::json;
use talko_control::live::{DisconnectReason, FanoutConfig, Hub, LiveMessage, RedisFanout};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_subscription_sends_local_devices_to_resync_then_recovers() {
    let url = std::env::var("TALKO_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let config = FanoutConfig {
        url: url.clone(),
        channel: format!("talko:test:{}", Uuid::new_v4()),
        ..FanoutConfig::default()
    };
    let (a, b) = (Hub::default(), Hub::default());
    let _fa = RedisFanout::start(config.clone(), &a)
        .await
        .expect("Redis must be running");
    let fb = RedisFanout::start(config, &b)
        .await
        .expect("Redis must be running");
    let account = Uuid::new_v4();
    let mut on_b = b.connect(account, Uuid::new_v4());

    let client = redis::Client::open(url.as_str()).expect("url");
    let mut admin = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut admin)
        .await
        .expect("CLIENT KILL");
    assert!(
        killed >= 2,
        "both nodes' subscriptions killed, got {killed}"
    );

    // B's device is told to resume from its cursor.
    let end = tokio::time::timeout(Duration::from_secs(5), on_b.recv())
        .await
        .expect("in time");
    assert_eq!(end, None);
    assert_eq!(on_b.disconnect_reason(), Some(DisconnectReason::Resync));
    assert!(fb.resyncs() >= 1);

    // After resubscribing, delivery works again.
    let mut on_b = b.connect(account, Uuid::new_v4());
    let message = LiveMessage::notification("c1", json!({"kind": "mention"}));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        a.publish(account, &message);
        match tokio::time::timeout(Duration::from_millis(300), on_b.recv()).await {
            Ok(Some(got)) => {
                assert_eq!(got, message);
                break;
            }
            Ok(None) => {
                // Resubscribing ends sessions opened during the outage: reconnect.
                assert_eq!(on_b.disconnect_reason(), Some(DisconnectReason::Resync));
                on_b = b.connect(account, Uuid::new_v4());
            }
            Err(_) => assert!(
                tokio::time::Instant::now() < deadline,
                "no delivery after recovery"
            ),
        }
    }
}
