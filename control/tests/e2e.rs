//! End to end over real sockets: the API served on an ephemeral loopback port, the
//! WebSocket live stream delivering a notification as it happens and replaying missed
//! ones from a cursor after a reconnect, and the `talkod` binary with the `talko` client
//! binary: start, use, drain on SIGTERM.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use talko_control::client::Client;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

async fn serve(app: &common::TestApp) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = talko_control::app(app.state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: SocketAddr, token: &str, cursor: Option<&str>) -> Ws {
    let url = match cursor {
        Some(c) => format!("ws://{addr}/v1/live?cursor={c}"),
        None => format!("ws://{addr}/v1/live"),
    };
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket connects");
    ws
}

/// The next notification message, skipping presence and control frames.
async fn next_notification(ws: &mut Ws, within: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).ok()?;
            if v["type"] == "notification" {
                return Some(v);
            }
        }
    }
}

both! {
    async fn live_stream_delivers_as_it_happens_and_resumes_from_a_cursor(app) {
        let ana = app.user("Ana").await;
        let bo = app.user("Bo").await;
        let g = app.group(&ana, "Live").await;
        app.add_member(&g, &ana, &bo).await;
        let addr = serve(app).await;
        let http = Client::for_addr(addr).with_token(ana.token.clone());

        // Without a token the upgrade is refused with a problem document.
        let r = Client::for_addr(addr).get("/v1/live").await.unwrap();
        assert_eq!(r.status, 401);

        let mut ws = connect(addr, &bo.token, None).await;
        // Give the session a moment to subscribe before the event.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let sent = Instant::now();
        let r = http.post(&format!("/v1/groups/{g}/items"), &json!({"text": "hello @bo"})).await.unwrap();
        assert_eq!(r.status, 201);
        let n = next_notification(&mut ws, Duration::from_secs(2)).await.expect("delivered live");
        eprintln!("live notification delivered {} ms after the POST was sent", sent.elapsed().as_millis());
        assert_eq!(n["notification"]["kind"], "mention");
        assert_eq!(n["notification"]["item_id"], r.json()["item_id"]);
        let cursor = n["cursor"].as_str().unwrap().to_owned();
        ws.close(None).await.unwrap();
        drop(ws);

        // While Bo is away two more things happen.
        http.post(&format!("/v1/groups/{g}/items"), &json!({"text": "one"})).await.unwrap();
        http.post(&format!("/v1/groups/{g}/calls"), &json!({"subject": "sync"})).await.unwrap();

        let mut ws = connect(addr, &bo.token, Some(&cursor)).await;
        let a = next_notification(&mut ws, Duration::from_secs(2)).await.expect("first missed");
        let b = next_notification(&mut ws, Duration::from_secs(2)).await.expect("second missed");
        assert_eq!(a["notification"]["kind"], "new_item");
        assert_eq!(b["notification"]["kind"], "call_started");
        assert_eq!(b["notification"]["subject"], "sync");
        assert!(next_notification(&mut ws, Duration::from_millis(200)).await.is_none(), "nothing twice");
        let _ = ws.send(Message::Close(None)).await;

        // A forged cursor is refused before the upgrade.
        let r = Client::for_addr(addr).with_token(bo.token.clone()).get("/v1/live?cursor=forged!").await.unwrap();
        assert_eq!(r.status, 400);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn talko(server: &str, token: Option<&str>, args: &[&str]) -> (bool, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_talko"));
    cmd.arg("--server").arg(server);
    if let Some(t) = token {
        cmd.arg("--token").arg(t);
    }
    let out = cmd.args(args).output().unwrap();
    if !out.status.success() {
        eprintln!("talko {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn talkod_serves_the_cli_and_drains_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("talkod-e2e-{}", uuid::Uuid::new_v4().simple()));
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_talkod"))
        .env("TALKO_LISTEN", format!("127.0.0.1:{port}"))
        .env("TALKO_DATA_DIR", &dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = Client::new(&server).unwrap();
    let mut up = false;
    for _ in 0..100 {
        if client.get("/readyz").await.is_ok_and(|r| r.status == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "talkod became ready");

    let (ok, v) = talko(
        &server,
        None,
        &["register", "cli@example.org", "a long password", "Cli"],
    );
    assert!(ok, "{v}");
    let (ok, s) = talko(
        &server,
        None,
        &["login", "cli@example.org", "a long password"],
    );
    assert!(ok, "{s}");
    let token = s["access_token"].as_str().unwrap().to_owned();
    let (ok, g) = talko(&server, Some(&token), &["group-create", "cli group"]);
    assert!(ok, "{g}");
    let gid = g["group_id"].as_str().unwrap().to_owned();
    let (ok, _) = talko(
        &server,
        Some(&token),
        &["post", &gid, "from the command line #cli"],
    );
    assert!(ok);
    let (ok, t) = talko(&server, Some(&token), &["timeline", &gid, "10"]);
    assert!(ok);
    assert_eq!(t["items"][0]["text"], "from the command line #cli");
    let (ok, _) = talko(&server, Some("tka_wrong"), &["me"]);
    assert!(!ok, "a bad token is an error exit");
    let r = client.get("/metrics").await.unwrap();
    assert!(String::from_utf8_lossy(&r.body).contains("route=\"/v1/groups/{group_id}/items\""));
    assert!(
        dir.join("talko.db").is_file(),
        "SQLite file under the data dir"
    );

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "talkod did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "clean exit after draining: {exit:?}");
    let mut log = String::new();
    use std::io::Read as _;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("draining"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn two_nodes_on_postgres_deliver_live_across_nodes_through_redis() {
    let Ok(redis) = std::env::var("TALKO_TEST_REDIS_URL") else {
        eprintln!("\n!!!!!!!! SKIPPING the two-node test: TALKO_TEST_REDIS_URL is not set (scripts/test sets it) !!!!!!!!\n");
        return;
    };
    let Some(app) = common::TestApp::postgres().await else {
        return;
    };
    let ana = app.user("Ana").await;
    let bo = app.user("Bo").await;
    let g = app.group(&ana, "Across").await;
    app.add_member(&g, &ana, &bo).await;
    let node_b = app.second_node().await;
    // A distinct channel per run keeps parallel test runs apart.
    let channel = format!("talko:test:{}", uuid::Uuid::new_v4().simple());
    for hub in [&app.state.live.hub, &node_b.live.hub] {
        let config = talko_control::live::FanoutConfig {
            url: redis.clone(),
            channel: channel.clone(),
            ..Default::default()
        };
        talko_control::live::RedisFanout::start(config, hub)
            .await
            .expect("fan-out starts");
    }
    let addr_a = serve(&app).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr_b = listener.local_addr().unwrap();
    let router_b = talko_control::app(node_b.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router_b).await;
    });
    let mut ws = connect(addr_b, &bo.token, None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = Client::for_addr(addr_a)
        .with_token(ana.token.clone())
        .post(
            &format!("/v1/groups/{g}/items"),
            &json!({"text": "from node A"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    let n = next_notification(&mut ws, Duration::from_secs(3))
        .await
        .expect("delivered on node B");
    assert_eq!(n["notification"]["item_id"], r.json()["item_id"]);
    let _ = ws.send(Message::Close(None)).await;
    node_b.store.close().await;
    app.finish().await;
}
