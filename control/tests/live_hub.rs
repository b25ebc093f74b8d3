//! The hub: fan-out to every device of an account, bounded queues, slow consumers.

use std::time::{Duration, Instant};

use serde_json::json;
use talko_control::live::{DisconnectReason, Hub, HubConfig, LiveMessage};
use uuid::Uuid;

fn note(cursor: &str) -> LiveMessage {
    LiveMessage::notification(cursor, json!({ "kind": "mention", "cursor": cursor }))
}

fn cursor_of(message: &LiveMessage) -> &str {
    match message {
        LiveMessage::Notification { cursor, .. } => cursor,
        LiveMessage::Presence { .. } => panic!("expected a notification, got {message:?}"),
    }
}

#[tokio::test]
async fn publish_reaches_every_device_of_the_account_and_no_one_else() {
    let hub = Hub::default();
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let mut phone = hub.connect(alice, Uuid::new_v4());
    let mut laptop = hub.connect(alice, Uuid::new_v4());
    let mut bobs = hub.connect(bob, Uuid::new_v4());
    assert_eq!(hub.devices(alice), 2);

    assert_eq!(hub.publish(alice, &note("c1")), 2);
    assert_eq!(phone.try_recv().as_ref().map(cursor_of), Some("c1"));
    assert_eq!(laptop.try_recv().as_ref().map(cursor_of), Some("c1"));
    assert!(bobs.try_recv().is_none());
    assert_eq!(hub.publish(Uuid::new_v4(), &note("c2")), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_message_is_received_within_100_ms() {
    let hub = Hub::default();
    let account = Uuid::new_v4();
    let mut receivers = Vec::new();
    for _ in 0..3 {
        let mut sub = hub.connect(account, Uuid::new_v4());
        receivers.push(tokio::spawn(async move {
            let message = sub.recv().await.expect("a message");
            (Instant::now(), cursor_of(&message).to_owned())
        }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let sent = Instant::now();
    assert_eq!(hub.publish(account, &note("c9")), 3);
    for receiver in receivers {
        let (at, cursor) = receiver.await.expect("receiver task");
        assert_eq!(cursor, "c9");
        let latency = at.duration_since(sent);
        assert!(latency < Duration::from_millis(100), "latency {latency:?}");
    }
}

#[tokio::test]
async fn a_slow_consumer_is_disconnected_with_a_reason_not_buffered() {
    let hub = Hub::new(HubConfig { queue: 4 });
    let account = Uuid::new_v4();
    let mut slow = hub.connect(account, Uuid::new_v4());
    let mut fast = hub.connect(account, Uuid::new_v4());
    for i in 0..4 {
        assert_eq!(hub.publish(account, &note(&format!("c{i}"))), 2);
        assert!(fast.try_recv().is_some());
    }
    // The fifth does not fit in the slow device's queue: it is dropped from the hub.
    assert_eq!(hub.publish(account, &note("c4")), 1);
    assert_eq!(hub.slow_disconnects(), 1);
    assert_eq!(hub.devices(account), 1);
    assert_eq!(
        slow.disconnect_reason(),
        Some(DisconnectReason::SlowConsumer)
    );
    // It still gets what was queued, then the end of the stream.
    let mut got = Vec::new();
    while let Some(message) = slow.recv().await {
        got.push(cursor_of(&message).to_owned());
    }
    assert_eq!(got, ["c0", "c1", "c2", "c3"]);
    // The fast device is unaffected.
    assert_eq!(fast.try_recv().as_ref().map(cursor_of), Some("c4"));
    assert_eq!(fast.disconnect_reason(), None);
}

#[tokio::test]
async fn the_same_device_connecting_again_replaces_the_old_connection() {
    let hub = Hub::default();
    let (account, device) = (Uuid::new_v4(), Uuid::new_v4());
    let mut old = hub.connect(account, device);
    let mut new = hub.connect(account, device);
    assert_eq!(hub.devices(account), 1);
    assert_eq!(old.recv().await, None);
    assert_eq!(old.disconnect_reason(), Some(DisconnectReason::Replaced));
    // Dropping the replaced subscription must not unregister the new one.
    drop(old);
    assert_eq!(hub.publish(account, &note("c1")), 1);
    assert_eq!(new.try_recv().as_ref().map(cursor_of), Some("c1"));
}

#[tokio::test]
async fn dropping_a_subscription_unregisters_the_device() {
    let hub = Hub::default();
    let account = Uuid::new_v4();
    let a = hub.connect(account, Uuid::new_v4());
    let b = hub.connect(account, Uuid::new_v4());
    assert_eq!(hub.devices(account), 2);
    drop(a);
    assert_eq!(hub.devices(account), 1);
    drop(b);
    assert_eq!(hub.devices(account), 0);
    assert_eq!(hub.publish(account, &note("c1")), 0);
}

#[test]
fn messages_serialise_to_the_documented_json() {
    let text = note("abc").to_json();
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        value,
        json!({"type": "notification", "cursor": "abc", "notification": {"kind": "mention", "cursor": "abc"}})
    );
    let account = Uuid::nil();
    let presence = LiveMessage::Presence {
        account,
        state: talko_control::live::PresenceState {
            online: true,
            availability: talko_control::live::Status::Busy,
            call: talko_control::live::CallRole::Talking { call: account },
        },
    };
    let value: serde_json::Value = serde_json::from_str(&presence.to_json()).expect("json");
    assert_eq!(
        value,
        json!({"type": "presence", "account": account, "state": {
            "online": true, "availability": "busy", "call": {"role": "talking", "call": account}}})
    );
}
