use super::*;

const LIMITS: QueueLimits = QueueLimits {
    per_peer_messages: 3,
    per_peer_bytes: 100,
    per_sender_messages: 4,
    per_sender_bytes: 150,
    total_bytes: 200,
};

fn id(s: &str) -> Arc<str> {
    Arc::from(s)
}

#[test]
fn messages_come_out_in_arrival_order_across_senders() {
    let mut q = OfflineQueues::new(LIMITS, 5000);
    let (a, b) = (id("a"), id("b"));
    assert_eq!(q.push("x", &a, "1".into(), 0), Ok(()));
    assert_eq!(q.push("x", &b, "2".into(), 1), Ok(()));
    assert_eq!(q.push("x", &a, "3".into(), 2), Ok(()));
    let frames: Vec<String> = q.take("x").into_iter().map(|m| m.frame).collect();
    assert_eq!(frames, ["1", "2", "3"]);
    assert_eq!((q.total_bytes(), q.total_messages(), q.len()), (0, 0, 0));
}

#[test]
fn per_destination_count_and_bytes_are_capped() {
    let mut q = OfflineQueues::new(LIMITS, 5000);
    let (a, b) = (id("a"), id("b"));
    for i in 0..3 {
        assert_eq!(
            q.push("x", if i % 2 == 0 { &a } else { &b }, "m".into(), 0),
            Ok(())
        );
    }
    assert_eq!(q.push("x", &b, "m".into(), 0), Err(QueueFull::PerPeer));
    assert_eq!(q.push("y", &b, "z".repeat(101), 0), Err(QueueFull::PerPeer));
    assert_eq!(q.push("y", &b, "z".repeat(60), 0), Ok(()));
    assert_eq!(q.push("y", &b, "z".repeat(41), 0), Err(QueueFull::PerPeer));
}

#[test]
fn per_sender_caps_span_destinations() {
    let mut q = OfflineQueues::new(LIMITS, 5000);
    let a = id("a");
    for dst in ["w", "x", "y", "z"] {
        assert_eq!(q.push(dst, &a, "m".into(), 0), Ok(()));
    }
    assert_eq!(q.push("v", &a, "m".into(), 0), Err(QueueFull::PerSender));
    assert_eq!(q.push("v", &id("b"), "m".into(), 0), Ok(()));
    q.take("w");
    assert_eq!(
        q.push("v", &a, "m".into(), 0),
        Ok(()),
        "a delivered message frees its slot"
    );
}

#[test]
fn total_bytes_are_capped() {
    let mut q = OfflineQueues::new(LIMITS, 5000);
    assert_eq!(q.push("x", &id("a"), "m".repeat(100), 0), Ok(()));
    assert_eq!(q.push("y", &id("b"), "m".repeat(100), 0), Ok(()));
    assert_eq!(q.push("z", &id("c"), "m".into(), 0), Err(QueueFull::Total));
    assert_eq!(q.total_bytes(), 200);
}

#[test]
fn queues_expire_after_the_timeout_from_creation_with_distinct_senders() {
    let mut q = OfflineQueues::new(LIMITS, 5000);
    let (a, b) = (id("a"), id("b"));
    q.push("x", &a, "1".into(), 1000).ok();
    q.push("x", &b, "2".into(), 3000).ok();
    q.push("x", &a, "3".into(), 4000).ok();
    q.push("y", &b, "4".into(), 2000).ok();
    assert!(q.expire(5999).is_empty());
    let expired = q.expire(6000);
    assert_eq!(
        expired,
        [Expired {
            dst: id("x"),
            senders: vec![a.clone(), b.clone()]
        }]
    );
    assert_eq!(
        q.expire(7000),
        [Expired {
            dst: id("y"),
            senders: vec![b]
        }]
    );
    assert!(q.is_empty());
    assert_eq!(q.total_bytes(), 0);
}

#[test]
fn a_drained_queue_does_not_expire_and_a_new_one_gets_a_fresh_deadline() {
    let mut q = OfflineQueues::new(LIMITS, 5000);
    let a = id("a");
    q.push("x", &a, "1".into(), 0).ok();
    q.take("x");
    q.push("x", &a, "2".into(), 4000).ok();
    assert!(
        q.expire(5000).is_empty(),
        "the first queue's deadline is stale"
    );
    assert_eq!(q.expire(9000).len(), 1);
}

#[test]
fn has_pair_tells_whether_an_expire_is_coming() {
    let mut q = OfflineQueues::new(LIMITS, 5000);
    q.push("x", &id("a"), "1".into(), 0).ok();
    assert!(q.has_pair("x", "a"));
    assert!(!q.has_pair("x", "b"));
    assert!(!q.has_pair("y", "a"));
}
