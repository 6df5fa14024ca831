//! The PeerJS WebSocket through a real socket: registration, relay, queue, expiry, shutdown.

mod peerjs_support;

use std::time::{Duration, Instant};

use p2pcf_server::ServerConfig;
use peerjs_support::*;

#[tokio::test]
async fn two_clients_relay_with_src_overwritten() {
    let server = start(ServerConfig::default()).await;
    let mut a = join(server.port, "alice").await;
    let mut b = join(server.port, "bob").await;
    send(&mut a, r#"{"type":"OFFER","src":"mallory","dst":"bob","junk":1,"payload":{"sdp":"v=0","connectionId":"dc_1"}}"#).await;
    assert_eq!(
        next_text(&mut b).await,
        r#"{"type":"OFFER","src":"alice","dst":"bob","payload":{"sdp":"v=0","connectionId":"dc_1"}}"#
    );
    send(
        &mut b,
        r#"{"type":"ANSWER","dst":"alice","payload":{"connectionId":"dc_1"}}"#,
    )
    .await;
    assert_eq!(
        next_text(&mut a).await,
        r#"{"type":"ANSWER","src":"bob","dst":"alice","payload":{"connectionId":"dc_1"}}"#
    );
    assert_eq!(server.hub.registered(), 2);
}

#[tokio::test]
async fn taken_id_gets_id_taken_and_a_close_without_code() {
    let server = start(ServerConfig::default()).await;
    let _a = join(server.port, "alice").await;
    let mut other = connect_raw(server.port, "key=peerjs&id=alice&token=other").await;
    assert_eq!(
        next_text(&mut other).await,
        r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#
    );
    assert_eq!(expect_close(&mut other).await, None);
}

#[tokio::test]
async fn wrong_key_gets_error_and_close() {
    let server = start(ServerConfig::default()).await;
    let mut ws = connect_raw(server.port, "key=nope&id=a&token=t").await;
    assert_eq!(
        next_text(&mut ws).await,
        r#"{"type":"ERROR","payload":{"msg":"Invalid key provided"}}"#
    );
    expect_close(&mut ws).await;
}

#[tokio::test]
async fn same_token_reconnect_gets_open_again() {
    let server = start(ServerConfig::default()).await;
    let mut first = join(server.port, "alice").await;
    let mut second = join(server.port, "alice").await; // same token "talice"
    expect_close(&mut first).await;
    let mut b = join(server.port, "bob").await;
    send(&mut b, r#"{"type":"CANDIDATE","dst":"alice","payload":1}"#).await;
    assert_eq!(
        next_text(&mut second).await,
        r#"{"type":"CANDIDATE","src":"bob","dst":"alice","payload":1}"#
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        server.hub.registered(),
        2,
        "the old socket's close kept alice"
    );
}

#[tokio::test]
async fn queued_messages_arrive_after_open_and_unanswered_ones_expire() {
    let mut config = ServerConfig::default();
    config.peerjs.expire_timeout_ms = 600;
    let server = start(config).await;
    let mut a = join(server.port, "alice").await;
    send(&mut a, r#"{"type":"OFFER","dst":"carol","payload":1}"#).await;
    send(&mut a, r#"{"type":"CANDIDATE","dst":"carol","payload":2}"#).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = join(server.port, "carol").await;
    assert_eq!(
        next_text(&mut c).await,
        r#"{"type":"OFFER","src":"alice","dst":"carol","payload":1}"#
    );
    assert_eq!(
        next_text(&mut c).await,
        r#"{"type":"CANDIDATE","src":"alice","dst":"carol","payload":2}"#
    );

    let sent = Instant::now();
    send(&mut a, r#"{"type":"OFFER","dst":"nobody","payload":1}"#).await;
    send(&mut a, r#"{"type":"CANDIDATE","dst":"nobody","payload":2}"#).await;
    assert_eq!(
        next_text(&mut a).await,
        r#"{"type":"EXPIRE","src":"nobody","dst":"alice"}"#
    );
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(550) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
    quiet(&mut a, 800).await;
}

#[tokio::test]
async fn silent_clients_are_disconnected_after_the_alive_timeout() {
    let mut config = ServerConfig::default();
    config.peerjs.alive_timeout_ms = 700;
    let server = start(config).await;
    let mut silent = join(server.port, "silent").await;
    let mut beating = join(server.port, "beating").await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        send(&mut beating, r#"{"type":"HEARTBEAT"}"#).await;
    }
    assert_eq!(expect_close(&mut silent).await, None);
    assert_eq!(server.hub.ids(), ["beating"]);
}

#[tokio::test]
async fn graceful_shutdown_closes_sockets_with_1001() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(p2pcf_server::serve(
        listener,
        ServerConfig::default(),
        async {
            let _ = stop_rx.await;
        },
    ));
    let mut a = join(port, "alice").await;
    let _ = stop_tx.send(());
    assert_eq!(expect_close(&mut a).await, Some(1001));
    let result = tokio::time::timeout(Duration::from_secs(10), server).await;
    assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
}

#[tokio::test]
async fn disabled_peerjs_serves_only_p2pcf() {
    let mut config = ServerConfig::default();
    config.peerjs.enabled = false;
    let state = p2pcf_server::AppState::new(config).expect("state");
    assert!(state.peerjs().is_none());
}
