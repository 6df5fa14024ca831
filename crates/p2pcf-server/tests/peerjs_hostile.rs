//! Hostile input on the PeerJS endpoint: junk frames, huge and deep frames, spoofing, floods to
//! offline ids, upgrades that never finish, more clients than the limit. No panic, bounded
//! memory, other clients unaffected.

mod peerjs_support;

use std::time::{Duration, Instant};

use futures::SinkExt;
use p2pcf_server::ServerConfig;
use peerjs_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn junk_frames_never_wedge_or_close_a_socket() {
    let server = start(ServerConfig::default()).await;
    let mut a = join(server.port, "alice").await;
    let mut b = join(server.port, "bob").await;
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let deep_elsewhere = format!(r#"{{"type":"OFFER","dst":"bob","x":{deep}}}"#);
    let junk = [
        "not json",
        "{",
        "",
        "null",
        "[1,2]",
        r#"{"type":"HELLO","dst":"bob"}"#,
        r#"{"type":"OFFER"}"#,
        r#"{"type":"OFFER","dst":{"a":1}}"#,
        deep.as_str(),
        deep_elsewhere.as_str(),
    ];
    for frame in junk {
        send(&mut a, frame).await;
    }
    a.send(Message::binary(vec![0xff, 0xfe, 0x00]))
        .await
        .expect("send");
    send(
        &mut a,
        r#"{"type":"OFFER","dst":"bob","payload":"still here"}"#,
    )
    .await;
    // Deep nesting in an ignored field is skipped without recursion: relayed like upstream.
    assert_eq!(
        next_text(&mut b).await,
        r#"{"type":"OFFER","src":"alice","dst":"bob"}"#
    );
    assert_eq!(
        next_text(&mut b).await,
        r#"{"type":"OFFER","src":"alice","dst":"bob","payload":"still here"}"#
    );
}

#[tokio::test]
async fn deeply_nested_payload_is_relayed_verbatim() {
    let server = start(ServerConfig::default()).await;
    let mut a = join(server.port, "alice").await;
    let mut b = join(server.port, "bob").await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    send(
        &mut a,
        &format!(r#"{{"type":"OFFER","dst":"bob","payload":{deep}}}"#),
    )
    .await;
    assert_eq!(
        next_text(&mut b).await,
        format!(r#"{{"type":"OFFER","src":"alice","dst":"bob","payload":{deep}}}"#)
    );
}

#[tokio::test]
async fn frames_over_the_limit_close_only_that_socket_with_1009() {
    let mut config = ServerConfig::default();
    config.peerjs.max_frame_bytes = 4096;
    let server = start(config).await;
    let mut a = join(server.port, "alice").await;
    let mut b = join(server.port, "bob").await;
    let huge = format!(
        r#"{{"type":"OFFER","dst":"bob","payload":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    let _ = a.send(Message::text(huge)).await;
    assert_eq!(expect_close(&mut a).await, Some(1009));
    let mut c = join(server.port, "carol").await;
    send(&mut c, r#"{"type":"OFFER","dst":"bob"}"#).await;
    assert_eq!(
        next_text(&mut b).await,
        r#"{"type":"OFFER","src":"carol","dst":"bob"}"#
    );
}

#[tokio::test]
async fn more_clients_than_the_limit_get_error_and_close() {
    let mut config = ServerConfig::default();
    config.peerjs.concurrent_limit = 3;
    let server = start(config).await;
    let mut a = join(server.port, "a").await;
    let _b = join(server.port, "b").await;
    let mut c = join(server.port, "c").await;
    for id in ["d", "e"] {
        let mut extra = connect_raw(server.port, &format!("key=peerjs&id={id}&token=t")).await;
        assert_eq!(
            next_text(&mut extra).await,
            r#"{"type":"ERROR","payload":{"msg":"Server has reached its concurrent user limit"}}"#
        );
        expect_close(&mut extra).await;
    }
    send(&mut a, r#"{"type":"OFFER","dst":"c"}"#).await;
    assert_eq!(
        next_text(&mut c).await,
        r#"{"type":"OFFER","src":"a","dst":"c"}"#
    );
    assert_eq!(server.hub.registered(), 3);
}

#[tokio::test]
async fn ids_the_client_would_refuse_get_an_error() {
    let server = start(ServerConfig::default()).await;
    let mut ws = connect_raw(server.port, "key=peerjs&id=%3Cscript%3E&token=t").await;
    assert_eq!(
        next_text(&mut ws).await,
        r#"{"type":"ERROR","payload":{"msg":"Invalid id provided"}}"#
    );
    expect_close(&mut ws).await;
}

#[tokio::test]
async fn upgrades_that_never_finish_are_dropped() {
    let config = ServerConfig {
        request_head_timeout_ms: 300,
        ..ServerConfig::default()
    };
    let server = start(config).await;
    let mut stalled = Vec::new();
    for _ in 0..50 {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
            .await
            .expect("connect");
        tcp.write_all(b"GET /peerjs/peerjs?key=peerjs&id=x&token=t HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
            .await
            .expect("write");
        stalled.push(tcp);
    }
    let mut idle = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    stalled.push(idle);
    // A real client is served meanwhile.
    let mut a = join(server.port, "alice").await;
    let started = Instant::now();
    for tcp in &mut stalled {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "still open: {read:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    idle = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    drop(idle);
    send(&mut a, r#"{"type":"HEARTBEAT"}"#).await;
    send(&mut a, r#"{"type":"CANDIDATE","dst":"alice"}"#).await;
    assert_eq!(
        next_text(&mut a).await,
        r#"{"type":"CANDIDATE","src":"alice","dst":"alice"}"#
    );
}
