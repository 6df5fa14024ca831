//! WebSocket handshake and relay: missing params, bad key, ID-TAKEN, same-token re-attach, OPEN,
//! relay with `src` overwritten and extra fields stripped (key order kept), JSON in binary
//! frames, invalid JSON, unknown types, messages to self, no `dst`, HEARTBEAT, client close.

use super::improvements::Improvement;
use super::runner::{Case, Run, OPEN};

const NO_PARAMS: &str =
    r#"{"type":"ERROR","payload":{"msg":"No id, token, or key supplied to websocket server"}}"#;
const BAD_KEY: &str = r#"{"type":"ERROR","payload":{"msg":"Invalid key provided"}}"#;
const ID_TAKEN: &str = r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#;
const INVALID_ID: &str = r#"{"type":"ERROR","payload":{"msg":"Invalid id provided"}}"#;
/// How our server closes a socket whose frame is over `max_frame_bytes`.
const FRAME_TOO_BIG: &str = "close(1009 \"\")";
/// How the official server closes: a close frame without a status code.
pub const CLOSE: &str = "close(no code)";

pub fn cases() -> Vec<Case> {
    vec![
        crate::case!(missing_params),
        crate::case!(bad_key),
        crate::case!(query_parsing),
        crate::case!(id_taken),
        crate::case!(same_token_reattach),
        crate::case!(invalid_ids),
        crate::case!(large_frame),
        crate::case!(relay_overwrites_src_and_strips),
        crate::case!(relay_types),
        crate::case!(binary_frame_json),
        crate::case!(invalid_json_keeps_socket),
        crate::case!(unknown_and_unrelayed_types),
        crate::case!(message_to_self),
        crate::case!(no_dst_is_dropped),
        crate::case!(client_close),
    ]
}

/// Connects with `query` and expects one ERROR frame then the close.
async fn refused(r: &mut Run, what: &str, query: &str, frame: &str) -> anyhow::Result<()> {
    let mut c = r.connect_query(what, query).await?;
    r.expect_frames(what, &mut c, &[frame], None).await;
    r.expect_close(what, &mut c, CLOSE, None).await;
    Ok(())
}

async fn missing_params(r: &mut Run) -> anyhow::Result<()> {
    let id = r.id("m");
    for (what, query) in [
        ("noid", "key=peerjs&token=t1".to_owned()),
        ("notoken", format!("key=peerjs&id={id}")),
        ("nokey", format!("id={id}&token=t1")),
        ("emptyid", "key=peerjs&id=&token=t1".to_owned()),
        ("emptytoken", format!("key=peerjs&id={id}&token=")),
        ("emptykey", format!("key=&id={id}&token=t1")),
        // Params are checked before the key.
        ("badkeynoid", "key=wrong&token=t1".to_owned()),
    ] {
        refused(r, what, &query, NO_PARAMS).await?;
    }
    // None of those registered the id.
    let _ok = r.open("m", "t2").await?;
    Ok(())
}

async fn bad_key(r: &mut Run) -> anyhow::Result<()> {
    let id = r.id("k");
    refused(
        r,
        "wrongkey",
        &format!("key=wrong&id={id}&token=t1"),
        BAD_KEY,
    )
    .await?;
    refused(
        r,
        "casekey",
        &format!("key=PEERJS&id={id}&token=t1"),
        BAD_KEY,
    )
    .await?;
    let _ok = r.open("k", "t1").await?;
    Ok(())
}

async fn query_parsing(r: &mut Run) -> anyhow::Result<()> {
    // Percent-escapes decode; the last of duplicate params wins.
    let (a, b) = (r.id("qa"), r.id("qb"));
    let q = format!("key=peerj%73&id={a}&id={b}&token=t1");
    let mut first = r.connect_query("qb", &q).await?;
    r.expect_frames("duplicate id param", &mut first, &[OPEN], None)
        .await;
    let mut peer = r.open("qa", "t1").await?;
    r.send(&mut peer, r#"{"type":"OFFER","dst":"{<qb>}","payload":1}"#)
        .await?;
    r.expect_frames(
        "relay to the id of the last param",
        &mut first,
        &[r#"{"type":"OFFER","src":"<qa>","dst":"<qb>","payload":1}"#],
        None,
    )
    .await;
    Ok(())
}

async fn id_taken(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    let mut thief = r.connect("alice", "t2").await?;
    r.expect_frames("other token", &mut thief, &[ID_TAKEN], None)
        .await;
    r.expect_close("other token", &mut thief, CLOSE, None).await;
    // The holder is unaffected.
    let mut bob = r.open("bob", "t1").await?;
    r.send(
        &mut bob,
        r#"{"type":"OFFER","dst":"{<alice>}","payload":"p"}"#,
    )
    .await?;
    r.expect_frames(
        "holder still registered",
        &mut alice,
        &[r#"{"type":"OFFER","src":"<bob>","dst":"<alice>","payload":"p"}"#],
        None,
    )
    .await;
    Ok(())
}

async fn same_token_reattach(r: &mut Run) -> anyhow::Result<()> {
    let mut old = r.open("alice", "t1").await?;
    old.label = "alice(old)".into();
    let mut new = r.connect("alice", "t1").await?;
    new.label = "alice(new)".into();
    r.expect_frames(
        "same token again",
        &mut new,
        &[],
        Some((Improvement::OpenOnReattach, &[OPEN])),
    )
    .await;
    r.expect_state(
        "after re-attach",
        &mut old,
        "still open",
        Some((Improvement::OpenOnReattach, CLOSE)),
    )
    .await;
    let mut bob = r.open("bob", "t1").await?;
    r.send(
        &mut bob,
        r#"{"type":"ANSWER","dst":"{<alice>}","payload":2}"#,
    )
    .await?;
    let relayed = r#"{"type":"ANSWER","src":"<bob>","dst":"<alice>","payload":2}"#;
    r.expect_frames("after re-attach", &mut new, &[relayed], None)
        .await;
    r.expect_frames("after re-attach", &mut old, &[], None)
        .await;
    // The old socket ending (ours closed it already) does not deregister the re-attached client.
    let _ = old.ws.close(1000).await;
    drop(old);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    r.send(
        &mut bob,
        r#"{"type":"ANSWER","dst":"{<alice>}","payload":3}"#,
    )
    .await?;
    let relayed = r#"{"type":"ANSWER","src":"<bob>","dst":"<alice>","payload":3}"#;
    r.expect_frames("after the old socket closed", &mut new, &[relayed], None)
        .await;
    // The id stays taken for other tokens.
    let mut thief = r.connect("alice", "t2").await?;
    r.expect_frames("other token after re-attach", &mut thief, &[ID_TAKEN], None)
        .await;
    Ok(())
}

async fn invalid_ids(r: &mut Run) -> anyhow::Result<()> {
    // Ids the PeerJS client itself refuses (`validateId`), and an over-long one.
    let dotted = format!("{}.x", r.id("dotted"));
    let long = "L".repeat(300);
    for (label, id) in [("dotted", dotted), ("long", long)] {
        let mut c = r
            .connect_query(label, &format!("key=peerjs&id={id}&token=t1"))
            .await?;
        r.expect_frames(
            "id the client would refuse",
            &mut c,
            &[OPEN],
            Some((Improvement::InvalidIdsRefused, &[INVALID_ID])),
        )
        .await;
        r.expect_state(
            "id the client would refuse",
            &mut c,
            "still open",
            Some((Improvement::InvalidIdsRefused, CLOSE)),
        )
        .await;
    }
    Ok(())
}

async fn large_frame(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    let mut bob = r.open("bob", "t1").await?;
    let big = "x".repeat(100_000);
    r.send(
        &mut alice,
        &format!(r#"{{"type":"OFFER","dst":"{{<bob>}}","payload":"{big}"}}"#),
    )
    .await?;
    let frames =
        super::runner::read_frames_within(&mut bob, 1, std::time::Duration::from_secs(3)).await;
    let summary: Vec<String> = frames
        .iter()
        .map(|f| format!("{} bytes", r.normalize(f).len()))
        .collect();
    r.expect(
        "a 100 kB OFFER: bob receives",
        &summary.join(" | "),
        "100059 bytes",
        Some((Improvement::FrameSizeLimit, "")),
    );
    r.expect_state(
        "after a 100 kB frame",
        &mut alice,
        "still open",
        Some((Improvement::FrameSizeLimit, FRAME_TOO_BIG)),
    )
    .await;
    Ok(())
}

async fn relay_overwrites_src_and_strips(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    let mut bob = r.open("bob", "t1").await?;
    // Spoofed src, extra fields, payload keys in non-alphabetical order, fields out of order.
    r.send(
        &mut alice,
        r#"{"extra":true,"payload":{"sdp":{"type":"offer","sdp":"v=0"},"type":"data","connectionId":"dc_1","metadata":null,"label":"dc_1","serialization":"binary","reliable":true},"dst":"{<bob>}","src":"{<mallory>}","type":"OFFER","connectionId":"x"}"#,
    )
    .await?;
    r.expect_frames(
        "spoofed src, extra fields",
        &mut bob,
        &[r#"{"type":"OFFER","src":"<alice>","dst":"<bob>","payload":{"sdp":{"type":"offer","sdp":"v=0"},"type":"data","connectionId":"dc_1","metadata":null,"label":"dc_1","serialization":"binary","reliable":true}}"#],
        None,
    )
    .await;
    // Unicode and escapes in the payload.
    r.send(
        &mut alice,
        r#"{"type":"CANDIDATE","dst":"{<bob>}","payload":"é\u00e9\"\\/✓"}"#,
    )
    .await?;
    r.expect_frames(
        "string escapes",
        &mut bob,
        &[r#"{"type":"CANDIDATE","src":"<alice>","dst":"<bob>","payload":"éé\"\\/✓"}"#],
        Some((
            Improvement::PayloadVerbatim,
            &[r#"{"type":"CANDIDATE","src":"<alice>","dst":"<bob>","payload":"é\u00e9\"\\/✓"}"#],
        )),
    )
    .await;
    // Number spellings and whitespace.
    r.send(
        &mut alice,
        r#"{"type":"OFFER","dst":"{<bob>}","payload":{ "a" : 1.0, "b": [ 1e2, -0 ] }}"#,
    )
    .await?;
    r.expect_frames(
        "number spellings, whitespace",
        &mut bob,
        &[r#"{"type":"OFFER","src":"<alice>","dst":"<bob>","payload":{"a":1,"b":[100,0]}}"#],
        Some((
            Improvement::PayloadVerbatim,
            &[r#"{"type":"OFFER","src":"<alice>","dst":"<bob>","payload":{"a":1.0,"b":[1e2,-0]}}"#],
        )),
    )
    .await;
    // No payload: omitted; null payload: kept.
    r.send(&mut alice, r#"{"type":"OFFER","dst":"{<bob>}"}"#)
        .await?;
    r.send(
        &mut alice,
        r#"{"type":"OFFER","dst":"{<bob>}","payload":null}"#,
    )
    .await?;
    r.expect_frames(
        "absent and null payload",
        &mut bob,
        &[
            r#"{"type":"OFFER","src":"<alice>","dst":"<bob>"}"#,
            r#"{"type":"OFFER","src":"<alice>","dst":"<bob>","payload":null}"#,
        ],
        None,
    )
    .await;
    r.expect_frames("sender", &mut alice, &[], None).await;
    Ok(())
}

async fn relay_types(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    let mut bob = r.open("bob", "t1").await?;
    for t in ["OFFER", "ANSWER", "CANDIDATE", "LEAVE", "EXPIRE"] {
        r.send(
            &mut alice,
            &format!(r#"{{"type":"{t}","dst":"{{<bob>}}","payload":{{"connectionId":"c"}}}}"#),
        )
        .await?;
        let relayed = format!(
            r#"{{"type":"{t}","src":"<alice>","dst":"<bob>","payload":{{"connectionId":"c"}}}}"#
        );
        r.expect_frames(&format!("{t} from a client"), &mut bob, &[&relayed], None)
            .await;
    }
    Ok(())
}

async fn binary_frame_json(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    let mut bob = r.open("bob", "t1").await?;
    r.send_binary(
        &mut alice,
        r#"{"type":"OFFER","dst":"{<bob>}","payload":[1,2]}"#,
    )
    .await?;
    r.expect_frames(
        "JSON in a binary frame (relayed as text)",
        &mut bob,
        &[r#"{"type":"OFFER","src":"<alice>","dst":"<bob>","payload":[1,2]}"#],
        None,
    )
    .await;
    Ok(())
}

async fn invalid_json_keeps_socket(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    let mut bob = r.open("bob", "t1").await?;
    for junk in [
        "not json",
        "{\"type\":",
        "null",
        "42",
        "\"OFFER\"",
        "[]",
        "{}",
        "",
    ] {
        r.send(&mut alice, junk).await?;
    }
    alice.ws.send_binary(&[0xff, 0x00, 0xfe]).await?;
    r.expect_frames("after invalid frames", &mut alice, &[], None)
        .await;
    r.send(
        &mut alice,
        r#"{"type":"OFFER","dst":"{<bob>}","payload":"still"}"#,
    )
    .await?;
    r.expect_frames(
        "after invalid frames, a valid one",
        &mut bob,
        &[r#"{"type":"OFFER","src":"<alice>","dst":"<bob>","payload":"still"}"#],
        None,
    )
    .await;
    Ok(())
}

async fn unknown_and_unrelayed_types(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    let mut bob = r.open("bob", "t1").await?;
    for t in ["FOO", "offer", "OPEN", "ID-TAKEN", "ERROR", "HEARTBEAT"] {
        r.send(
            &mut alice,
            &format!(r#"{{"type":"{t}","dst":"{{<bob>}}","payload":1}}"#),
        )
        .await?;
    }
    r.send(&mut alice, r#"{"type":7,"dst":"{<bob>}"}"#).await?;
    r.send(&mut alice, r#"{"dst":"{<bob>}"}"#).await?;
    r.expect_frames("unknown types and HEARTBEAT", &mut bob, &[], None)
        .await;
    r.expect_frames("unknown types and HEARTBEAT", &mut alice, &[], None)
        .await;
    r.send(&mut alice, r#"{"type":"ANSWER","dst":"{<bob>}"}"#)
        .await?;
    r.expect_frames(
        "then a known type",
        &mut bob,
        &[r#"{"type":"ANSWER","src":"<alice>","dst":"<bob>"}"#],
        None,
    )
    .await;
    Ok(())
}

async fn message_to_self(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    r.send(
        &mut alice,
        r#"{"type":"OFFER","dst":"{<alice>}","payload":"me"}"#,
    )
    .await?;
    r.expect_frames(
        "to itself",
        &mut alice,
        &[r#"{"type":"OFFER","src":"<alice>","dst":"<alice>","payload":"me"}"#],
        None,
    )
    .await;
    Ok(())
}

async fn no_dst_is_dropped(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    for msg in [
        r#"{"type":"OFFER","payload":1}"#,
        r#"{"type":"OFFER","dst":"","payload":1}"#,
        r#"{"type":"OFFER","dst":null,"payload":1}"#,
        r#"{"type":"CANDIDATE","payload":1}"#,
    ] {
        r.send(&mut alice, msg).await?;
    }
    r.expect_frames("no dst", &mut alice, &[], None).await;
    r.send(
        &mut alice,
        r#"{"type":"OFFER","dst":"{<alice>}","payload":"ok"}"#,
    )
    .await?;
    r.expect_frames(
        "no dst, then to itself",
        &mut alice,
        &[r#"{"type":"OFFER","src":"<alice>","dst":"<alice>","payload":"ok"}"#],
        None,
    )
    .await;
    Ok(())
}

async fn client_close(r: &mut Run) -> anyhow::Result<()> {
    let alice = r.open("alice", "t1").await?;
    r.client_close("client closes with 1000", alice).await?;
    // The id is free again, for any token.
    let _again = r.open("alice", "t2").await?;
    Ok(())
}
