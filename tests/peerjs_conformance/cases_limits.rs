//! Each case here needs a server of its own: the concurrent limit with discovery on (`/peers`
//! lists exactly the registered ids), and liveness with a short alive timeout.

use std::time::Duration;

use reqwest::Method;
use tokio::time::Instant;

use super::cases_ws::CLOSE;
use super::improvements::Improvement;
use super::runner::{Run, OPEN};

const LIMIT: &str =
    r#"{"type":"ERROR","payload":{"msg":"Server has reached its concurrent user limit"}}"#;

/// `/peers` as a sorted list of labels (the order of a map is not part of the protocol).
async fn peers(r: &mut Run, what: &str, official: &str) -> anyhow::Result<()> {
    let (head, body) = r.http(what, Method::GET, "peerjs/peers", &[]).await?;
    r.expect(
        &format!("{what}: head"),
        &head,
        "200; content-type: application/json;charset=utf-8; vary: Origin",
        None,
    );
    let mut ids: Vec<String> = match serde_json::from_str::<Vec<String>>(&body) {
        Ok(ids) => ids.iter().map(|id| r.normalize(id)).collect(),
        Err(e) => vec![format!("not a JSON array of strings ({e}): {body}")],
    };
    ids.sort();
    r.expect(
        &format!("{what}: ids (sorted)"),
        &ids.join(","),
        official,
        None,
    );
    Ok(())
}

/// Needs a server with `concurrent_limit` 2 and discovery on, used by nothing else.
pub async fn concurrent_limit(r: &mut Run) -> anyhow::Result<()> {
    assert_eq!(
        r.settings.concurrent_limit, 2,
        "case written for a limit of 2"
    );
    peers(r, "GET /peers, nobody connected", "").await?;
    let mut c1 = r.open("c1", "t1").await?;
    let c2 = r.open("c2", "t1").await?;
    peers(r, "GET /peers, two connected", "<c1>,<c2>").await?;
    let mut c3 = r.connect("c3", "t1").await?;
    r.expect_frames("third id over the limit", &mut c3, &[LIMIT], None)
        .await;
    r.expect_close("third id over the limit", &mut c3, CLOSE, None)
        .await;
    // A same-token re-attach at the limit is not a new id.
    let mut again = r.connect("c1", "t1").await?;
    again.label = "c1(again)".into();
    r.expect_frames(
        "re-attach at the limit",
        &mut again,
        &[],
        Some((Improvement::OpenOnReattach, &[OPEN])),
    )
    .await;
    // An id that is taken answers ID-TAKEN even at the limit.
    let mut thief = r.connect("c2", "t2").await?;
    r.expect_frames(
        "taken id at the limit",
        &mut thief,
        &[r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#],
        None,
    )
    .await;
    peers(r, "GET /peers after the refusals", "<c1>,<c2>").await?;
    // A freed slot can be used.
    r.client_close("c2 leaves", c2).await?;
    let _c3 = r.open("c3", "t1").await?;
    let mut c4 = r.connect("c4", "t1").await?;
    r.expect_frames("limit reached again", &mut c4, &[LIMIT], None)
        .await;
    peers(r, "GET /peers at the end", "<c1>,<c3>").await?;
    // c1's sockets: the re-attached one is current and works.
    r.send(&mut again, r#"{"type":"OFFER","dst":"{<c1>}","payload":0}"#)
        .await?;
    r.expect_frames(
        "re-attached socket",
        &mut again,
        &[r#"{"type":"OFFER","src":"<c1>","dst":"<c1>","payload":0}"#],
        None,
    )
    .await;
    r.expect_frames("first socket", &mut c1, &[], None).await;
    Ok(())
}

/// Needs a server with a short alive timeout (2 s), used by nothing else.
pub async fn heartbeat_liveness(r: &mut Run) -> anyhow::Result<()> {
    let alive = r.settings.alive_timeout_ms;
    let mut beating = r.open("beating", "t1").await?;
    let start = Instant::now();
    let mut silent = r.open("silent", "t1").await?;
    let mut chatty = r.open("chatty", "t1").await?;
    // `beating` sends HEARTBEAT, `chatty` only other traffic (which does not count); `silent`
    // is watched for its close, timed.
    let beat_for = Duration::from_millis(alive + 1500);
    let mut silent_end: Option<(String, Duration)> = None;
    let mut last_beat: Option<Instant> = None;
    while start.elapsed() < beat_for {
        if last_beat.is_none_or(|t| t.elapsed() >= Duration::from_millis(300)) {
            r.send(&mut beating, r#"{"type":"HEARTBEAT"}"#).await?;
            // Once the server closed it, writing may fail (ours ends the TCP connection, the
            // official server waits for the client); its close is observed below.
            let _ = r.send(&mut chatty, r#"{"type":"FOO"}"#).await;
            last_beat = Some(Instant::now());
        }
        match silent_end {
            None => {
                if let Some(frame) = silent.ws.next(Duration::from_millis(50)).await {
                    silent_end = Some((frame.describe(), start.elapsed()));
                }
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let (frame, after) = silent_end.unwrap_or(("still open".into(), start.elapsed()));
    r.expect("no HEARTBEAT: silent closed by server", &frame, CLOSE, None);
    let (lo, hi) = (u128::from(alive) - 20, u128::from(alive) + 300 + 700);
    r.notes.push(format!(
        "liveness: silent socket closed {} ms after it connected (alive timeout {alive} ms)",
        after.as_millis()
    ));
    r.expect(
        &format!("silent closed {lo}..={hi} ms after connecting"),
        &(lo..=hi).contains(&after.as_millis()).to_string(),
        "true",
        None,
    );
    r.expect_frames("only non-HEARTBEAT traffic", &mut chatty, &[], None)
        .await;
    r.expect_close("only non-HEARTBEAT traffic", &mut chatty, CLOSE, None)
        .await;
    // The reaped ids are free for any token; the beating one is still registered.
    let _silent = r.open("silent", "t9").await?;
    let mut thief = r.connect("beating", "t9").await?;
    r.expect_frames(
        "HEARTBEAT kept the id",
        &mut thief,
        &[r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#],
        None,
    )
    .await;
    r.send(
        &mut beating,
        r#"{"type":"OFFER","dst":"{<beating>}","payload":1}"#,
    )
    .await?;
    r.expect_frames(
        "beating socket still relays",
        &mut beating,
        &[r#"{"type":"OFFER","src":"<beating>","dst":"<beating>","payload":1}"#],
        None,
    )
    .await;
    Ok(())
}
