//! The WebSocket session over a real socket on loopback: replay from a cursor, the
//! switch to live messages without loss or duplicates, resume after a reconnect,
//! latency to every device, client messages, slow consumers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use talko_control::live::{
    upgrade, Audience, BoxFuture, Hub, HubConfig, Live, LiveConfig, LiveMessage,
    NotificationSource, Presence, PresenceConfig, SourceError, Status,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Hook run inside `since`, before (`true`) or after (`false`) the page is read.
type Hook = Box<dyn Fn(&Inbox, bool) + Send + Sync>;

/// An in-memory inbox with the store's contract: cursors are opaque strings, `since`
/// returns what follows a cursor it issued.
#[derive(Default)]
struct Inbox {
    rows: Mutex<HashMap<Uuid, Vec<(String, Value)>>>,
    next: Mutex<u64>,
    hook: Mutex<Option<Hook>>,
    hub: Mutex<Option<Hub>>,
    acks: Mutex<Vec<(Uuid, Uuid, String)>>,
}

impl Inbox {
    /// Commits a notification, then publishes it (the core's order).
    fn commit(&self, account: Uuid, subject: &str) -> String {
        let cursor = {
            let mut next = self.next.lock().expect("lock");
            *next += 1;
            format!("k{:06}", *next)
        };
        let doc = json!({ "kind": "mention", "subject": subject, "cursor": cursor });
        self.rows
            .lock()
            .expect("lock")
            .entry(account)
            .or_default()
            .push((cursor.clone(), doc.clone()));
        if let Some(hub) = self.hub.lock().expect("lock").as_ref() {
            hub.publish(account, &LiveMessage::notification(&cursor, doc));
        }
        cursor
    }
}

impl NotificationSource for Inbox {
    fn since<'a>(
        &'a self,
        account: Uuid,
        cursor: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<(String, Value)>, SourceError>> {
        Box::pin(async move {
            if let Some(hook) = self.hook.lock().expect("lock").as_ref() {
                hook(self, true);
            }
            let page = {
                let rows = self.rows.lock().expect("lock");
                let list = rows.get(&account).cloned().unwrap_or_default();
                let start = list
                    .iter()
                    .position(|(c, _)| c == cursor)
                    .ok_or(SourceError::InvalidCursor)?
                    + 1;
                list.into_iter()
                    .skip(start)
                    .take(limit as usize)
                    .collect::<Vec<_>>()
            };
            if let Some(hook) = self.hook.lock().expect("lock").as_ref() {
                hook(self, false);
            }
            // Let the session's other work interleave, as a real query would.
            tokio::task::yield_now().await;
            Ok(page)
        })
    }

    fn ack<'a>(
        &'a self,
        account: Uuid,
        device: Uuid,
        cursor: &'a str,
    ) -> BoxFuture<'a, Result<(), SourceError>> {
        self.acks
            .lock()
            .expect("lock")
            .push((account, device, cursor.to_owned()));
        Box::pin(async { Ok(()) })
    }
}

struct Everyone(Vec<Uuid>);

impl Audience for Everyone {
    fn watchers(&self, account: Uuid) -> BoxFuture<'_, Vec<Uuid>> {
        let others = self.0.iter().copied().filter(|a| *a != account).collect();
        Box::pin(async move { others })
    }
}

#[derive(Deserialize)]
struct Who {
    account: Uuid,
    device: Uuid,
    cursor: Option<String>,
}

/// Stands in for the core's handler: authentication is the query string here.
async fn live_handler(
    State(live): State<Live>,
    Query(who): Query<Who>,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(ws, live, who.account, who.device, who.cursor)
}

struct Server {
    addr: std::net::SocketAddr,
    inbox: Arc<Inbox>,
    live: Live,
}

async fn server(hub: HubConfig, config: LiveConfig, accounts: Vec<Uuid>) -> Server {
    server_with(hub, config, PresenceConfig::default(), accounts).await
}

async fn server_with(
    hub: HubConfig,
    config: LiveConfig,
    presence: PresenceConfig,
    accounts: Vec<Uuid>,
) -> Server {
    let hub = Hub::new(hub);
    let inbox = Arc::new(Inbox::default());
    *inbox.hub.lock().expect("lock") = Some(hub.clone());
    let presence = Presence::spawn(presence, hub.clone(), Arc::new(Everyone(accounts)));
    let live = Live {
        hub,
        source: inbox.clone(),
        presence,
        config,
    };
    let app = Router::new()
        .route("/v1/live", get(live_handler))
        .with_state(live.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server { addr, inbox, live }
}

async fn connect(server: &Server, account: Uuid, device: Uuid, cursor: Option<&str>) -> Client {
    let mut url = format!(
        "ws://{}/v1/live?account={account}&device={device}",
        server.addr
    );
    if let Some(c) = cursor {
        url.push_str(&format!("&cursor={c}"));
    }
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connect");
    ws
}

/// The next JSON text message (pings are answered by the client library).
async fn next_json(ws: &mut Client) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .expect("stream open")
            .expect("frame");
        match frame {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("json"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Messages until `ready`, as (type, cursor) pairs; then the ready cursor.
async fn until_ready(ws: &mut Client) -> (Vec<String>, Value) {
    let mut cursors = Vec::new();
    loop {
        let m = next_json(ws).await;
        match m["type"].as_str() {
            Some("notification") => cursors.push(m["cursor"].as_str().expect("cursor").to_owned()),
            Some("ready") => return (cursors, m["cursor"].clone()),
            _ => panic!("unexpected {m}"),
        }
    }
}

/// The next message of type `kind`, skipping others (e.g. peers' presence).
async fn next_of_type(ws: &mut Client, kind: &str) -> Value {
    loop {
        let m = next_json(ws).await;
        if m["type"] == kind {
            return m;
        }
    }
}

async fn next_notification(ws: &mut Client) -> String {
    loop {
        let m = next_json(ws).await;
        if m["type"] == "notification" {
            assert_eq!(m["notification"]["cursor"], m["cursor"]);
            return m["cursor"].as_str().expect("cursor").to_owned();
        }
    }
}

/// Asserts that nothing but pings arrives for `wait`.
async fn assert_silent(ws: &mut Client, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(other) => panic!("expected silence, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn replay_from_the_cursor_then_live_messages() {
    let account = Uuid::new_v4();
    let s = server(HubConfig::default(), LiveConfig::default(), vec![account]).await;
    let cursors: Vec<String> = (0..5)
        .map(|i| s.inbox.commit(account, &format!("n{i}")))
        .collect();

    let mut ws = connect(&s, account, Uuid::new_v4(), Some(&cursors[1])).await;
    let (replayed, ready) = until_ready(&mut ws).await;
    assert_eq!(replayed, cursors[2..]);
    assert_eq!(ready, json!(cursors[4]));

    let live = s.inbox.commit(account, "fresh");
    assert_eq!(next_notification(&mut ws).await, live);
    // Another account's notification does not arrive here.
    s.inbox.commit(Uuid::new_v4(), "not yours");
    assert_silent(&mut ws, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn without_a_cursor_only_live_messages_arrive() {
    let account = Uuid::new_v4();
    let s = server(HubConfig::default(), LiveConfig::default(), vec![account]).await;
    s.inbox.commit(account, "old");
    let mut ws = connect(&s, account, Uuid::new_v4(), None).await;
    let (replayed, ready) = until_ready(&mut ws).await;
    assert!(replayed.is_empty());
    assert_eq!(ready, Value::Null);
    let live = s.inbox.commit(account, "new");
    assert_eq!(next_notification(&mut ws).await, live);
}

#[tokio::test]
async fn notifications_committed_during_the_replay_are_neither_lost_nor_doubled() {
    let account = Uuid::new_v4();
    let config = LiveConfig {
        replay_page: 2,
        ..LiveConfig::default()
    };
    let s = server(HubConfig::default(), config, vec![account]).await;
    let first = s.inbox.commit(account, "seen");
    for i in 0..4 {
        s.inbox.commit(account, &format!("missed {i}"));
    }
    // During the first three replay queries: one notification lands before the page
    // is read (it is in the page AND in the live queue), one after (only in the live
    // queue).
    let calls = std::sync::atomic::AtomicUsize::new(0);
    *s.inbox.hook.lock().expect("lock") = Some(Box::new(move |inbox: &Inbox, before: bool| {
        if before && calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 3 {
            return;
        }
        if calls.load(std::sync::atomic::Ordering::Relaxed) > 3 {
            return;
        }
        inbox.commit(
            account,
            if before {
                "during, before read"
            } else {
                "during, after read"
            },
        );
    }));

    let mut ws = connect(&s, account, Uuid::new_v4(), Some(&first)).await;
    let (mut got, _) = until_ready(&mut ws).await;
    *s.inbox.hook.lock().expect("lock") = None;
    let last = s.inbox.commit(account, "after the replay");
    loop {
        let c = next_notification(&mut ws).await;
        let done = c == last;
        got.push(c);
        if done {
            break;
        }
    }
    let all: Vec<String> = s.inbox.rows.lock().expect("lock")[&account]
        .iter()
        .map(|(c, _)| c.clone())
        .collect();
    let mut sorted = got.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), got.len(), "no duplicates: {got:?}");
    assert_eq!(sorted, all[1..], "nothing lost");
}

#[tokio::test]
async fn a_reconnect_resumes_from_the_cursor_and_loses_nothing() {
    let account = Uuid::new_v4();
    let device = Uuid::new_v4();
    let s = server(HubConfig::default(), LiveConfig::default(), vec![account]).await;
    let mut ws = connect(&s, account, device, None).await;
    until_ready(&mut ws).await;
    let a = s.inbox.commit(account, "a");
    assert_eq!(next_notification(&mut ws).await, a);
    ws.close(None).await.expect("close");
    drop(ws);

    // While the device is away.
    let missed: Vec<String> = (0..3)
        .map(|i| s.inbox.commit(account, &format!("m{i}")))
        .collect();

    let mut ws = connect(&s, account, device, Some(&a)).await;
    let (replayed, _) = until_ready(&mut ws).await;
    assert_eq!(replayed, missed);
    let b = s.inbox.commit(account, "b");
    assert_eq!(next_notification(&mut ws).await, b);
    assert_silent(&mut ws, Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connected_device_receives_a_notification_within_100_ms() {
    let account = Uuid::new_v4();
    let s = server(HubConfig::default(), LiveConfig::default(), vec![account]).await;
    let mut devices = Vec::new();
    for _ in 0..3 {
        let mut ws = connect(&s, account, Uuid::new_v4(), None).await;
        until_ready(&mut ws).await;
        devices.push(ws);
    }
    for round in 0..5 {
        let sent = Instant::now();
        let cursor = s.inbox.commit(account, &format!("round {round}"));
        for ws in &mut devices {
            assert_eq!(next_notification(ws).await, cursor);
            let latency = sent.elapsed();
            assert!(latency < Duration::from_millis(100), "latency {latency:?}");
        }
    }
}

#[tokio::test]
async fn client_messages_drive_presence_and_bad_ones_get_an_error() {
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let presence = PresenceConfig {
        disconnect_grace: Duration::from_secs(1),
        ..PresenceConfig::default()
    };
    let s = server_with(
        HubConfig::default(),
        LiveConfig::default(),
        presence,
        vec![alice, bob],
    )
    .await;
    let mut bob_ws = connect(&s, bob, Uuid::new_v4(), None).await;
    until_ready(&mut bob_ws).await;

    let alice_device = Uuid::new_v4();
    let mut ws = connect(&s, alice, alice_device, None).await;
    until_ready(&mut ws).await;
    // Bob sees Alice come online (coalesced: one message).
    let m = next_of_type(&mut bob_ws, "presence").await;
    assert_eq!(m["account"], json!(alice));
    assert_eq!(m["state"]["online"], true);
    assert_eq!(m["state"]["availability"], "available");

    for bad in [
        "{",
        "{\"type\":\"teleport\"}",
        "{\"type\":\"availability\",\"value\":\"asleep\"}",
        "[]",
        "\u{0}",
    ] {
        ws.send(Message::text(bad)).await.expect("send");
        let reply = next_of_type(&mut ws, "error").await;
        assert_eq!(
            reply,
            json!({"type": "error", "code": "bad_message"}),
            "{bad:?}"
        );
    }
    ws.send(Message::text(r#"{"type":"heartbeat"}"#))
        .await
        .expect("send");
    ws.send(Message::text(r#"{"type":"availability","value":"busy"}"#))
        .await
        .expect("send");
    let m = next_json(&mut bob_ws).await;
    assert_eq!(m["state"]["availability"], "busy");
    assert_eq!(s.live.presence.get(alice).await.availability, Status::Busy);

    let c = s.inbox.commit(alice, "x");
    assert_eq!(next_notification(&mut ws).await, c);
    ws.send(Message::text(format!(r#"{{"type":"ack","cursor":"{c}"}}"#)))
        .await
        .expect("send");
    // Leaving: Bob sees Alice go offline after the disconnect grace period.
    ws.close(None).await.expect("close");
    drop(ws);
    let m = next_of_type(&mut bob_ws, "presence").await;
    assert_eq!(m["state"]["online"], false);
    assert_eq!(
        s.inbox.acks.lock().expect("lock").as_slice(),
        [(alice, alice_device, c)]
    );
}

#[tokio::test]
async fn a_slow_device_is_closed_with_a_reason_and_can_resume() {
    let account = Uuid::new_v4();
    let s = server(HubConfig { queue: 2 }, LiveConfig::default(), vec![account]).await;
    let mut ws = connect(&s, account, Uuid::new_v4(), None).await;
    until_ready(&mut ws).await;
    // A burst larger than the queue, with no chance for the session to drain it
    // (this test runs on one thread and does not yield in between).
    let cursors: Vec<String> = (0..10)
        .map(|i| s.inbox.commit(account, &format!("b{i}")))
        .collect();
    assert_eq!(s.live.hub.slow_disconnects(), 1);
    let mut received = Vec::new();
    let close = loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("frame in time")
            .expect("open")
            .expect("frame");
        match frame {
            Message::Text(t) => {
                let m: Value = serde_json::from_str(t.as_str()).expect("json");
                received.push(m["cursor"].as_str().expect("cursor").to_owned());
            }
            Message::Close(frame) => break frame.expect("close frame"),
            _ => {}
        }
    };
    assert_eq!(close.reason.as_str(), "slow_consumer");
    assert_eq!(u16::from(close.code), 4000);
    assert_eq!(received, cursors[..2]);
    // Resuming from the last cursor received delivers the rest.
    let mut ws = connect(
        &s,
        account,
        Uuid::new_v4(),
        received.last().map(String::as_str),
    )
    .await;
    let (replayed, _) = until_ready(&mut ws).await;
    assert_eq!(replayed, cursors[2..]);
}

#[tokio::test]
async fn an_unknown_cursor_closes_the_session_with_a_reason() {
    let account = Uuid::new_v4();
    let s = server(HubConfig::default(), LiveConfig::default(), vec![account]).await;
    let mut ws = connect(&s, account, Uuid::new_v4(), Some("not-a-cursor")).await;
    let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("frame in time")
        .expect("open")
        .expect("frame");
    let Message::Close(Some(close)) = frame else {
        panic!("expected a close frame, got {frame:?}");
    };
    assert_eq!(close.reason.as_str(), "invalid_cursor");
    assert_eq!(u16::from(close.code), 4400);
}

#[tokio::test]
async fn pongs_keep_a_session_open_and_a_silent_client_is_dropped() {
    let account = Uuid::new_v4();
    let config = LiveConfig {
        ping_interval: Duration::from_millis(50),
        receive_timeout: Duration::from_millis(300),
        ..LiveConfig::default()
    };
    let s = server(HubConfig::default(), config, vec![account]).await;

    // A client that reads nothing sends no pongs (the client library answers pings
    // only while it is being read): the server gives up on it.
    let _silent = connect(&s, account, Uuid::new_v4(), None).await;
    let mut ws = connect(&s, account, Uuid::new_v4(), None).await;
    until_ready(&mut ws).await;
    assert_eq!(s.live.hub.devices(account), 2);
    let mut pings = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(900);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
            Ok(other) => panic!("the session should stay open, got {other:?}"),
        }
    }
    assert!(pings >= 8, "pings {pings}");
    assert_eq!(
        s.live.hub.devices(account),
        1,
        "the silent device was dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_devices_each_receive_their_accounts_notifications_once_and_in_order() {
    let accounts: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
    // No presence watchers here: only notifications on the wire.
    let s = server(HubConfig::default(), LiveConfig::default(), Vec::new()).await;
    let mut clients = Vec::new();
    for (i, account) in accounts.iter().enumerate() {
        for _ in 0..(1 + i % 5) {
            let mut ws = connect(&s, *account, Uuid::new_v4(), None).await;
            until_ready(&mut ws).await;
            clients.push((*account, ws));
        }
    }
    assert!(clients.len() >= 60);
    let mut expected: HashMap<Uuid, Vec<String>> = HashMap::new();
    for round in 0..20 {
        for account in &accounts {
            let cursor = s.inbox.commit(*account, &format!("r{round}"));
            expected.entry(*account).or_default().push(cursor);
        }
    }
    let readers = clients.into_iter().map(|(account, mut ws)| {
        let want = expected[&account].clone();
        tokio::spawn(async move {
            let mut got = Vec::with_capacity(want.len());
            while got.len() < want.len() {
                got.push(next_notification(&mut ws).await);
            }
            assert_silent(&mut ws, Duration::from_millis(100)).await;
            assert_eq!(got, want);
        })
    });
    for reader in readers.collect::<Vec<_>>() {
        reader.await.expect("reader");
    }
}
