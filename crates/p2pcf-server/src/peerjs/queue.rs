//! Messages for ids nobody holds: one FIFO per destination, bounded in count and bytes per
//! destination, per sender and in total, expiring `expire_timeout` after the queue was created
//! (upstream's `lastReadAt` only moves when the queue is drained, which deletes it).
//!
//! This and [`super::registry`] are the realm's whole view of shared state, so a clustered
//! version (issue 11) replaces these two types behind the same methods.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// The caps, from [`super::PeerJsConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    pub per_peer_messages: usize,
    pub per_peer_bytes: usize,
    pub per_sender_messages: usize,
    pub per_sender_bytes: usize,
    pub total_bytes: usize,
}

/// One waiting message: who sent it and the frame to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub sender: Arc<str>,
    pub frame: String,
}

/// Which cap refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueFull {
    PerPeer,
    PerSender,
    Total,
}

/// An expired queue: its destination and its distinct senders, in first-message order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub dst: Arc<str>,
    pub senders: Vec<Arc<str>>,
}

#[derive(Debug)]
struct Queue {
    generation: u64,
    bytes: usize,
    items: VecDeque<Queued>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    messages: usize,
    bytes: usize,
}

/// All offline queues.
#[derive(Debug)]
pub struct OfflineQueues {
    limits: QueueLimits,
    expire_after: u64,
    queues: HashMap<Arc<str>, Queue>,
    by_sender: HashMap<Arc<str>, Usage>,
    /// Queues in creation order = deadline order; stale entries are skipped by generation.
    deadlines: VecDeque<(u64, Arc<str>, u64)>,
    next_generation: u64,
    total_bytes: usize,
    total_messages: usize,
}

impl OfflineQueues {
    /// Empty queues with these caps; each queue expires `expire_after` ms after its creation.
    pub fn new(limits: QueueLimits, expire_after: u64) -> Self {
        Self {
            limits,
            expire_after,
            queues: HashMap::new(),
            by_sender: HashMap::new(),
            deadlines: VecDeque::new(),
            next_generation: 0,
            total_bytes: 0,
            total_messages: 0,
        }
    }

    /// Appends `frame` from `sender` to `dst`'s queue unless a cap refuses it.
    pub fn push(
        &mut self,
        dst: &str,
        sender: &Arc<str>,
        frame: String,
        now: u64,
    ) -> Result<(), QueueFull> {
        let bytes = frame.len();
        let limits = self.limits;
        if self.total_bytes + bytes > limits.total_bytes {
            return Err(QueueFull::Total);
        }
        let usage = self.by_sender.get(sender).copied().unwrap_or_default();
        if usage.messages + 1 > limits.per_sender_messages
            || usage.bytes + bytes > limits.per_sender_bytes
        {
            return Err(QueueFull::PerSender);
        }
        if let Some(queue) = self.queues.get(dst) {
            if queue.items.len() + 1 > limits.per_peer_messages
                || queue.bytes + bytes > limits.per_peer_bytes
            {
                return Err(QueueFull::PerPeer);
            }
        } else if 1 > limits.per_peer_messages || bytes > limits.per_peer_bytes {
            return Err(QueueFull::PerPeer);
        }
        let queue = match self.queues.get_mut(dst) {
            Some(queue) => queue,
            None => {
                let key: Arc<str> = Arc::from(dst);
                let generation = self.next_generation;
                self.next_generation += 1;
                let deadline = now.saturating_add(self.expire_after);
                self.deadlines
                    .push_back((deadline, key.clone(), generation));
                self.queues.entry(key).or_insert(Queue {
                    generation,
                    bytes: 0,
                    items: VecDeque::new(),
                })
            }
        };
        queue.bytes += bytes;
        queue.items.push_back(Queued {
            sender: sender.clone(),
            frame,
        });
        let usage = self.by_sender.entry(sender.clone()).or_default();
        usage.messages += 1;
        usage.bytes += bytes;
        self.total_bytes += bytes;
        self.total_messages += 1;
        Ok(())
    }

    /// Whether `dst`'s queue holds a message from `sender` (it will get an `EXPIRE` for it).
    pub fn has_pair(&self, dst: &str, sender: &str) -> bool {
        self.queues
            .get(dst)
            .is_some_and(|q| q.items.iter().any(|m| &*m.sender == sender))
    }

    /// Removes and returns `dst`'s queue, in arrival order.
    pub fn take(&mut self, dst: &str) -> VecDeque<Queued> {
        let Some(queue) = self.queues.remove(dst) else {
            return VecDeque::new();
        };
        for item in &queue.items {
            self.release(&item.sender, item.frame.len());
        }
        queue.items
    }

    /// Removes every queue whose deadline has passed; returns who must get `EXPIRE`.
    pub fn expire(&mut self, now: u64) -> Vec<Expired> {
        let mut expired = Vec::new();
        while let Some((deadline, _, _)) = self.deadlines.front() {
            if *deadline > now {
                break;
            }
            let Some((_, dst, generation)) = self.deadlines.pop_front() else {
                break;
            };
            if self
                .queues
                .get(&dst)
                .is_none_or(|q| q.generation != generation)
            {
                continue;
            }
            let mut senders: Vec<Arc<str>> = Vec::new();
            for item in self.take(&dst) {
                if !senders.contains(&item.sender) {
                    senders.push(item.sender);
                }
            }
            expired.push(Expired { dst, senders });
        }
        expired
    }

    /// Bytes waiting in all queues.
    pub fn total_bytes(&self) -> usize {
        self.total_bytes
    }

    /// Messages waiting in all queues.
    pub fn total_messages(&self) -> usize {
        self.total_messages
    }

    /// Destinations with a queue.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// No queue at all.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    fn release(&mut self, sender: &Arc<str>, bytes: usize) {
        self.total_bytes -= bytes;
        self.total_messages -= 1;
        if let Some(usage) = self.by_sender.get_mut(sender) {
            usage.messages -= 1;
            usage.bytes -= bytes;
            if usage.messages == 0 {
                self.by_sender.remove(sender);
            }
        }
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
