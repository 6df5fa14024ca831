//! Two `PeerLink`s in one process do the P2PCF minimal handshake with no signalling server: the
//! values B would publish in its package are carried to A as the JSON package P2PCF uses, and A's
//! candidates go back to B. Loopback only, no STUN.

use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use p2pcf_client::rtc::{
    gather_network_settings, AnswererParams, InitiatorParams, LinkEvent, LinkKey, LocalCertificate,
    PeerLink, RtcError, RtcOptions,
};
use p2pcf_proto::IceServer;
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{self, UnboundedReceiver};

type Events = UnboundedReceiver<(LinkKey, LinkEvent)>;

fn key(peer: &str) -> LinkKey {
    LinkKey {
        peer: p2pcf_proto::SessionId::from_wire(peer.to_owned()),
        generation: 1,
    }
}

const STEP: Duration = Duration::from_secs(10);
const FRAME: usize = 16000;

/// `randomstring(len)` of p2pcf.js: base64 of random bytes without `=`.
fn random_ice_string(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

async fn next_event(rx: &mut Events) -> LinkEvent {
    match tokio::time::timeout(STEP, rx.recv()).await {
        Ok(Some((_, event))) => event,
        Ok(None) => panic!("event channel closed"),
        Err(_) => panic!("no link event within {STEP:?}"),
    }
}

async fn wait_candidates(rx: &mut Events) -> Vec<String> {
    loop {
        if let LinkEvent::CandidatesGathered(c) = next_event(rx).await {
            return c;
        }
    }
}

async fn wait_open(rx: &mut Events) {
    loop {
        match next_event(rx).await {
            LinkEvent::Open => return,
            LinkEvent::CandidatesGathered(_) => {}
            other => panic!("expected Open, got {other:?}"),
        }
    }
}

struct Pair {
    b: PeerLink,
    a: PeerLink,
    b_events: Events,
    a_events: Events,
    open_after: Duration,
}

/// Logs with `RUST_LOG=…` when a test fails or needs a closer look.
fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// B (initiator) → package → A (answerer) → A's candidates → B, exactly as P2PCF carries them.
async fn connect(opts: &RtcOptions) -> Pair {
    init_tracing();
    let cert_a = LocalCertificate::generate().expect("cert A");
    let cert_b = LocalCertificate::generate().expect("cert B");
    let (a_session, b_session) = (random_ice_string(20), random_ice_string(20));
    let (b_tx, mut b_events) = mpsc::unbounded_channel();
    let (a_tx, mut a_events) = mpsc::unbounded_channel();

    let started = Instant::now();
    let (ufrag_for_a, pwd_for_a) = (random_ice_string(12), random_ice_string(32));
    let (b, offer) = PeerLink::initiator(
        key(&a_session),
        &cert_b,
        opts,
        InitiatorParams {
            ice_servers: vec![],
            remote_ufrag: ufrag_for_a.clone(),
            remote_pwd: pwd_for_a.clone(),
            remote_dtls_b64: cert_a.fingerprint_b64(),
            // A's published reflexive IP: B adds it as a srflx candidate on port 30000.
            remote_reflexive_ips: vec!["127.0.0.1".into()],
        },
        b_tx,
    )
    .await
    .expect("initiator");
    let b_candidates = wait_candidates(&mut b_events).await;
    assert!(!b_candidates.is_empty(), "B gathered no candidates");
    assert!(b_candidates.iter().all(|c| c.starts_with("candidate:")));

    let package = serde_json::json!([
        a_session,
        b_session,
        offer.ufrag,
        offer.pwd,
        offer.dtls_b64,
        ufrag_for_a,
        pwd_for_a,
        1_700_000_000_000u64,
        b_candidates
    ])
    .to_string();
    let pkg: serde_json::Value = serde_json::from_str(&package).expect("package json");
    let s = |i: usize| pkg[i].as_str().expect("string field").to_owned();
    let candidates: Vec<String> = serde_json::from_value(pkg[8].clone()).expect("candidate list");

    let a = PeerLink::answerer(
        key(&s(1)),
        &cert_a,
        opts,
        AnswererParams {
            ice_servers: vec![],
            remote_ufrag: s(2),
            remote_pwd: s(3),
            remote_dtls_b64: s(4),
            remote_candidates: candidates,
            local_ufrag: s(5),
            local_pwd: s(6),
        },
        a_tx,
    )
    .await
    .expect("answerer");
    let a_candidates = wait_candidates(&mut a_events).await;
    let accepted = b
        .add_remote_candidates(a_candidates.clone())
        .await
        .expect("B adds A's candidates");
    assert_eq!(accepted, a_candidates.len());

    wait_open(&mut a_events).await;
    wait_open(&mut b_events).await;
    let open_after = started.elapsed();
    eprintln!("data channel open on both sides {open_after:?} after B was created");
    Pair {
        b,
        a,
        b_events,
        a_events,
        open_after,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2pcf_handshake_opens_the_data_channel_on_both_sides_without_a_server() {
    let mut p = connect(&RtcOptions::loopback_only()).await;
    assert!(p.open_after < STEP);

    p.b.send(Bytes::from_static(b"hello from B"))
        .await
        .expect("B sends");
    p.a.send(Bytes::from_static(b"hello from A"))
        .await
        .expect("A sends");
    assert_eq!(
        next_event(&mut p.a_events).await,
        LinkEvent::Message(Bytes::from_static(b"hello from B"))
    );
    assert_eq!(
        next_event(&mut p.b_events).await,
        LinkEvent::Message(Bytes::from_static(b"hello from A"))
    );
}

/// Streams `total` bytes B → A as 16000-byte messages; checks SHA-256, message count and that
/// B never holds more than the high-water mark.
async fn stream_intact(total: usize) {
    let opts = RtcOptions::loopback_only();
    let hwm = opts.send_high_water_mark;
    // `a` must outlive the transfer: dropping a link closes its connection.
    let Pair {
        b,
        a: _a,
        mut a_events,
        ..
    } = connect(&opts).await;

    let receiver = tokio::spawn(async move {
        let (mut hash, mut bytes, mut messages) = (Sha256::new(), 0usize, 0usize);
        while bytes < total {
            match tokio::time::timeout(STEP, a_events.recv()).await {
                Ok(Some((_, LinkEvent::Message(m)))) => {
                    assert!(m.len() <= FRAME, "message of {} bytes", m.len());
                    hash.update(&m);
                    bytes += m.len();
                    messages += 1;
                }
                Ok(Some((_, other))) => panic!("unexpected {other:?} during transfer"),
                Ok(None) | Err(_) => panic!("transfer stalled after {bytes} bytes"),
            }
        }
        (hash.finalize(), bytes, messages)
    });

    let mut rng = rand::rngs::StdRng::seed_from_u64(total as u64);
    let (mut hash, mut sent, mut frames, mut max_buffered) = (Sha256::new(), 0, 0, 0);
    let started = Instant::now();
    while sent < total {
        let mut frame = vec![0u8; FRAME.min(total - sent)];
        rng.fill(frame.as_mut_slice());
        hash.update(&frame);
        sent += frame.len();
        frames += 1;
        b.send(Bytes::from(frame)).await.expect("send");
        let buffered = b.buffered_amount().await;
        // `send` admits a message while less than the mark is outstanding: at most one
        // message more than the mark is ever held.
        assert!(
            buffered < hwm + FRAME,
            "{buffered} bytes buffered ≥ {hwm} + {FRAME}"
        );
        max_buffered = max_buffered.max(buffered);
    }
    let (received_hash, received, messages) = receiver.await.expect("receiver task");
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{total} bytes in {secs:.2} s ({:.1} MB/s), max buffered {max_buffered} (hwm {hwm})",
        total as f64 / secs / 1e6
    );
    assert_eq!(received, total);
    assert_eq!(messages, frames);
    assert_eq!(received_hash, hash.finalize());
    assert!(max_buffered > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_megabyte_in_16000_byte_frames_arrives_intact() {
    stream_intact(1_000_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_megabytes_arrive_intact_with_a_bounded_send_buffer() {
    stream_intact(10_000_000).await;
}

/// About 6 s in release and 16 s in debug on the 2-core build machine (busy with other builds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabytes_arrive_intact_with_a_bounded_send_buffer() {
    stream_intact(100_000_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_one_side_reports_closed_on_the_other() {
    let mut p = connect(&RtcOptions::loopback_only()).await;
    let started = Instant::now();
    p.a.close().await;
    loop {
        match next_event(&mut p.b_events).await {
            LinkEvent::Closed => break,
            LinkEvent::CandidatesGathered(_) => {}
            other => panic!("expected Closed, got {other:?}"),
        }
    }
    eprintln!("B saw Closed {:?} after A closed", started.elapsed());
    assert!(matches!(
        p.a.send(Bytes::from_static(b"x")).await,
        Err(RtcError::Closed)
    ));
    assert!(matches!(
        p.b.send(Bytes::from_static(b"x")).await,
        Err(RtcError::Closed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_before_the_channel_opens_is_refused() {
    let cert = LocalCertificate::generate().expect("cert");
    let (tx, _rx) = mpsc::unbounded_channel();
    let (b, _) = PeerLink::initiator(
        key("peer"),
        &cert,
        &RtcOptions::loopback_only(),
        InitiatorParams {
            remote_ufrag: random_ice_string(12),
            remote_pwd: random_ice_string(32),
            remote_dtls_b64: cert.fingerprint_b64(),
            ..Default::default()
        },
        tx,
    )
    .await
    .expect("initiator");
    assert!(matches!(
        b.send(Bytes::from_static(b"x")).await,
        Err(RtcError::NotOpen)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiator_refuses_a_malformed_fingerprint() {
    let cert = LocalCertificate::generate().expect("cert");
    let (tx, _rx) = mpsc::unbounded_channel();
    let result = PeerLink::initiator(
        key("peer"),
        &cert,
        &RtcOptions::loopback_only(),
        InitiatorParams {
            remote_ufrag: random_ice_string(12),
            remote_pwd: random_ice_string(32),
            remote_dtls_b64: "AAAA".into(),
            ..Default::default()
        },
        tx,
    )
    .await;
    assert!(matches!(result, Err(RtcError::BadFingerprint)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_settings_without_stun_return_at_once_with_no_reflexive_ips() {
    let cert = LocalCertificate::generate().expect("cert");
    let started = Instant::now();
    let settings =
        gather_network_settings(&[], &cert, &RtcOptions::default(), Duration::from_secs(5))
            .await
            .expect("settings");
    let took = started.elapsed();
    eprintln!("network settings without STUN: {took:?}");
    assert!(took < Duration::from_millis(1000), "took {took:?}");
    assert!(!settings.udp_enabled);
    assert!(!settings.is_symmetric);
    assert!(settings.reflexive_ips.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_settings_with_unreachable_stun_return_within_the_cap() {
    let cert = LocalCertificate::generate().expect("cert");
    let cap = Duration::from_millis(1500);
    let stun = [IceServer {
        urls: vec!["stun:127.0.0.1:9".into()],
        ..Default::default()
    }];
    let started = Instant::now();
    let settings = gather_network_settings(&stun, &cert, &RtcOptions::default(), cap)
        .await
        .expect("settings");
    let took = started.elapsed();
    eprintln!("network settings with unreachable STUN (cap {cap:?}): {took:?}");
    assert!(took < cap + Duration::from_millis(500), "took {took:?}");
    assert!(!settings.udp_enabled);
    assert!(settings.reflexive_ips.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_streaming_when_the_other_side_closes_gets_closed_promptly() {
    let p = connect(&RtcOptions::loopback_only()).await;
    let b = std::sync::Arc::new(p.b);
    let sender = {
        let b = std::sync::Arc::clone(&b);
        tokio::spawn(async move {
            let frame = Bytes::from(vec![7u8; FRAME]);
            let mut frames = 0u64;
            loop {
                match b.send(frame.clone()).await {
                    Ok(()) => frames += 1,
                    Err(e) => return (frames, e),
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let closed_at = Instant::now();
    p.a.close().await;
    let (frames, err) = tokio::time::timeout(STEP, sender)
        .await
        .expect("sender still blocked after the remote closed")
        .expect("sender task");
    eprintln!(
        "sender stopped {:?} after the remote closed, after {frames} frames: {err}",
        closed_at.elapsed()
    );
    assert!(frames > 0);
    assert!(matches!(err, RtcError::Closed), "got {err:?}");
}
