//! Messages to ids that are not connected: the queue delivered in order after `OPEN`, `EXPIRE`
//! once per (src, dst) pair with its timing, `LEAVE`/`EXPIRE` from clients (dropped when the
//! destination is offline), and `LEAVE` without `dst`.

use std::time::Duration;

use tokio::time::Instant;

use super::cases_ws::CLOSE;
use super::improvements::Improvement;
use super::runner::{read_frames_within, Case, Run, OPEN};

pub fn cases() -> Vec<Case> {
    vec![
        crate::case!(queue_delivered_in_order),
        crate::case!(expire_per_pair),
        crate::case!(leave_and_expire_to_offline_dropped),
        crate::case!(leave_without_dst),
        crate::case!(odd_dst),
    ]
}

fn expire_window(r: &Run) -> Duration {
    // The official server sweeps every 1000 ms (cleanup_out_msgs).
    Duration::from_millis(r.settings.expire_timeout_ms + 1000 + 2500)
}

async fn queue_delivered_in_order(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    let mut bob = r.open("bob", "t1").await?;
    // Pauses between senders, so the server reads the frames in this order.
    let pause = Duration::from_millis(100);
    r.send(
        &mut alice,
        r#"{"type":"OFFER","dst":"{<carol>}","payload":1}"#,
    )
    .await?;
    r.send(
        &mut alice,
        r#"{"type":"CANDIDATE","dst":"{<carol>}","payload":2}"#,
    )
    .await?;
    tokio::time::sleep(pause).await;
    r.send(
        &mut bob,
        r#"{"type":"OFFER","dst":"{<carol>}","payload":3,"x":0}"#,
    )
    .await?;
    tokio::time::sleep(pause).await;
    r.send(
        &mut alice,
        r#"{"type":"ANSWER","dst":"{<carol>}","payload":4}"#,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut carol = r.connect("carol", "t1").await?;
    r.expect_frames(
        "queued for carol, then carol connects",
        &mut carol,
        &[
            OPEN,
            r#"{"type":"OFFER","src":"<alice>","dst":"<carol>","payload":1}"#,
            r#"{"type":"CANDIDATE","src":"<alice>","dst":"<carol>","payload":2}"#,
            r#"{"type":"OFFER","src":"<bob>","dst":"<carol>","payload":3}"#,
            r#"{"type":"ANSWER","src":"<alice>","dst":"<carol>","payload":4}"#,
        ],
        None,
    )
    .await;
    // Delivered, so nobody gets an EXPIRE.
    tokio::time::sleep(Duration::from_millis(r.settings.expire_timeout_ms + 1200)).await;
    r.expect_frames(
        "after delivery and the expire timeout",
        &mut alice,
        &[],
        None,
    )
    .await;
    r.expect_frames("after delivery and the expire timeout", &mut bob, &[], None)
        .await;
    // A reconnect does not deliver them again.
    r.client_close("carol leaves", carol).await?;
    let mut carol = r.connect("carol", "t1").await?;
    carol.label = "carol(again)".into();
    r.expect_frames("carol reconnects", &mut carol, &[OPEN], None)
        .await;
    Ok(())
}

async fn expire_per_pair(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    let mut bob = r.open("bob", "t1").await?;
    let start = Instant::now();
    r.send(
        &mut alice,
        r#"{"type":"OFFER","dst":"{<dave>}","payload":1}"#,
    )
    .await?;
    r.send(
        &mut alice,
        r#"{"type":"CANDIDATE","dst":"{<dave>}","payload":2}"#,
    )
    .await?;
    r.send(&mut bob, r#"{"type":"OFFER","dst":"{<dave>}","payload":3}"#)
        .await?;
    r.send(
        &mut alice,
        r#"{"type":"CANDIDATE","dst":"{<erin>}","payload":4}"#,
    )
    .await?;
    r.send(
        &mut alice,
        r#"{"type":"CANDIDATE","dst":"{<dave>}","payload":5}"#,
    )
    .await?;
    let within = expire_window(r);
    // The first EXPIRE is timed as it arrives; the second one follows.
    let first = alice.ws.next(within).await;
    let first_after = start.elapsed();
    let mut frames: Vec<String> = first.iter().map(|f| r.normalize(&f.describe())).collect();
    let rest = read_frames_within(&mut alice, 1, within).await;
    frames.extend(rest.iter().map(|f| r.normalize(f)));
    frames.sort();
    r.expect(
        "alice: one EXPIRE per destination (any order)",
        &frames.join(" | "),
        r#"{"type":"EXPIRE","src":"<dave>","dst":"<alice>"} | {"type":"EXPIRE","src":"<erin>","dst":"<alice>"}"#,
        None,
    );
    let bob_frames = read_frames_within(&mut bob, 1, within).await;
    let bob_frames: Vec<String> = bob_frames.iter().map(|f| r.normalize(f)).collect();
    r.expect(
        "bob: one EXPIRE",
        &bob_frames.join(" | "),
        r#"{"type":"EXPIRE","src":"<dave>","dst":"<bob>"}"#,
        None,
    );
    // Timing: at or after the expire timeout, before the next sweep (+ slack for a busy machine).
    let expire = u128::from(r.settings.expire_timeout_ms);
    let (lo, hi) = (expire.saturating_sub(50), expire + 1000 + 700);
    let ms = first_after.as_millis();
    r.notes.push(format!(
        "first EXPIRE {ms} ms after the first queued message (expire timeout {expire} ms)"
    ));
    r.expect(
        &format!("first EXPIRE arrives {lo}..={hi} ms after the first queued message"),
        &(lo..=hi).contains(&ms).to_string(),
        "true",
        None,
    );
    // The queue is gone: dave connects and gets only OPEN.
    let _dave = r.open("dave", "t1").await?;
    r.expect_frames("afterwards", &mut alice, &[], None).await;
    Ok(())
}

async fn leave_and_expire_to_offline_dropped(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    r.send(
        &mut alice,
        r#"{"type":"LEAVE","dst":"{<frank>}","payload":1}"#,
    )
    .await?;
    r.send(
        &mut alice,
        r#"{"type":"EXPIRE","dst":"{<frank>}","payload":2}"#,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(r.settings.expire_timeout_ms + 1200)).await;
    r.expect_frames("LEAVE/EXPIRE to an offline id", &mut alice, &[], None)
        .await;
    let _frank = r.open("frank", "t1").await?;
    Ok(())
}

async fn leave_without_dst(r: &mut Run) -> anyhow::Result<()> {
    let mut old = r.open("alice", "t1").await?;
    old.label = "alice(old)".into();
    let mut bob = r.open("bob", "t1").await?;
    r.send(&mut old, r#"{"type":"LEAVE"}"#).await?;
    r.expect_state(
        "after LEAVE without dst",
        &mut old,
        "still open",
        Some((Improvement::LeaveWithoutDst, CLOSE)),
    )
    .await;
    // The sender is deregistered: a message to it is queued, not relayed to the old socket...
    r.send(
        &mut bob,
        r#"{"type":"OFFER","dst":"{<alice>}","payload":1}"#,
    )
    .await?;
    r.expect_frames("after LEAVE without dst", &mut old, &[], None)
        .await;
    // ...and the id can be taken with another token (which gets the queue).
    let mut new = r.connect("alice", "t2").await?;
    new.label = "alice(new)".into();
    r.expect_frames(
        "another token takes the id",
        &mut new,
        &[
            OPEN,
            r#"{"type":"OFFER","src":"<bob>","dst":"<alice>","payload":1}"#,
        ],
        None,
    )
    .await;
    // The old socket closes (ours closed it already): the official server then deregisters the
    // new holder, so bob's next message is queued and expires.
    let _ = old.ws.close(1000).await;
    drop(old);
    tokio::time::sleep(Duration::from_millis(300)).await;
    r.send(
        &mut bob,
        r#"{"type":"OFFER","dst":"{<alice>}","payload":2}"#,
    )
    .await?;
    let relayed = r#"{"type":"OFFER","src":"<bob>","dst":"<alice>","payload":2}"#;
    r.expect_frames(
        "after the old socket closed",
        &mut new,
        &[],
        Some((Improvement::LeaveWithoutDst, &[relayed])),
    )
    .await;
    let within = expire_window(r);
    let frames = read_frames_within(&mut bob, 1, within).await;
    let frames: Vec<String> = frames.iter().map(|f| r.normalize(f)).collect();
    r.expect(
        "bob after the expire timeout",
        &frames.join(" | "),
        r#"{"type":"EXPIRE","src":"<alice>","dst":"<bob>"}"#,
        Some((Improvement::LeaveWithoutDst, "")),
    );
    Ok(())
}

async fn odd_dst(r: &mut Run) -> anyhow::Result<()> {
    let mut alice = r.open("alice", "t1").await?;
    let start = Instant::now();
    r.send(&mut alice, r#"{"type":"OFFER","dst":5,"payload":1}"#)
        .await?;
    let frames = read_frames_within(&mut alice, 1, expire_window(r)).await;
    let frames: Vec<String> = frames.iter().map(|f| r.normalize(f)).collect();
    r.notes
        .push(format!("dst 5: {} ms", start.elapsed().as_millis()));
    r.expect(
        "OFFER to dst 5: alice receives after the expire timeout",
        &frames.join(" | "),
        r#"{"type":"EXPIRE","src":5,"dst":"<alice>"}"#,
        Some((Improvement::OddDstDropped, "")),
    );
    Ok(())
}
