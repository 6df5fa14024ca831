//! Receive-side flow control: how many received bytes the application may hold before the
//! links stop reading from their data channels.
//!
//! Every received data-channel message is charged to one [`ReceiveBudget`] per client until the
//! last handle to its bytes is dropped — the reassembler's copy of a chunk, or the application's
//! [`crate::ClientEvent::Message`] data. While the budget is spent, a link's message handler
//! waits before accepting the next message; webrtc-rs does not read the SCTP stream meanwhile, so
//! the receive window closes and the sender's `send` waits on its buffered amount: a slow reader
//! slows the sender instead of growing memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Notify;

/// A byte budget shared by a client's links.
#[derive(Debug)]
pub struct ReceiveBudget {
    limit: usize,
    used: AtomicUsize,
    freed: Notify,
}

impl ReceiveBudget {
    /// A budget of `limit` bytes (at least 1).
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(ReceiveBudget {
            limit: limit.max(1),
            used: AtomicUsize::new(0),
            freed: Notify::new(),
        })
    }

    /// Bytes currently charged.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Waits until less than the limit is charged. A message is accepted whole even when it
    /// crosses the limit, so any message size works with any budget.
    pub async fn wait_for_room(&self) {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.used() < self.limit {
                return;
            }
            freed.await;
        }
    }

    /// Charges `data` to the budget until every clone of the returned bytes is dropped.
    pub fn charge(self: &Arc<Self>, data: impl Into<Bytes>) -> Bytes {
        let data = data.into();
        self.used.fetch_add(data.len(), Ordering::AcqRel);
        Bytes::from_owner(Charged {
            data,
            budget: Arc::clone(self),
        })
    }
}

struct Charged {
    data: Bytes,
    budget: Arc<ReceiveBudget>,
}

impl AsRef<[u8]> for Charged {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Charged {
    fn drop(&mut self) {
        self.budget
            .used
            .fetch_sub(self.data.len(), Ordering::AcqRel);
        self.budget.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn charged_bytes_count_until_every_clone_is_dropped() {
        let budget = ReceiveBudget::new(10);
        let a = budget.charge(vec![1u8; 6]);
        let slice = a.slice(1..3);
        assert_eq!(budget.used(), 6);
        drop(a);
        assert_eq!(budget.used(), 6, "a slice still holds the message");
        assert_eq!(&slice[..], &[1, 1]);
        drop(slice);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn waiting_ends_when_enough_is_dropped() {
        let budget = ReceiveBudget::new(10);
        let big = budget.charge(vec![0u8; 25]); // one message may cross the limit
        let waiter = {
            let budget = Arc::clone(&budget);
            tokio::spawn(async move { budget.wait_for_room().await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "over the limit: must wait");
        drop(big);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken once freed")
            .expect("task");
    }
}
