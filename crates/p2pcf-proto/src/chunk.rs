//! P2PCF's data-channel chunking, byte-compatible with `P2PCF.send` / `_chunkHandler`.
//!
//! A message longer than [`MAX_MESSAGE_LENGTH`] (or one that starts with the magic word and
//! is at least [`HEADER_LEN`] bytes, which a receiver would mistake for a chunk) is sent as
//! chunks: a 12-byte little-endian header `u16 magic (8121), u16 messageId (< 32768),
//! u16 chunkIndex, u16 last, u32 totalLength`, then at most [`MAX_CHUNK_PAYLOAD`] payload
//! bytes, zero-padded to a multiple of 4.
//!
//! [`Reassembler`] completes a message when every byte has arrived, whatever the order;
//! the JS receiver instead completes on the chunk flagged `last` (fine over an ordered
//! channel, where the two coincide). A `last` flag on any chunk but the final one is
//! rejected, because a correct sender never produces it.

use std::collections::HashMap;

use thiserror::Error;

/// Largest message sent unchunked (Chrome's SCTP message limit, as P2PCF assumes).
pub const MAX_MESSAGE_LENGTH: usize = 16000;
/// Size of the chunk header.
pub const HEADER_LEN: usize = 12;
/// The magic word at the start of every chunk.
pub const MAGIC: u16 = 8121;
/// Payload bytes per chunk.
pub const MAX_CHUNK_PAYLOAD: usize = MAX_MESSAGE_LENGTH - HEADER_LEN;
/// Message ids are below this value.
pub const MESSAGE_ID_LIMIT: u16 = 32768;
/// Default for [`ReassemblerLimits::max_message_size`]: 256 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

/// Whether `msg` must be chunked: longer than 16000 bytes, or it would be misread as a chunk.
pub fn needs_chunking(msg: &[u8]) -> bool {
    msg.len() > MAX_MESSAGE_LENGTH || (msg.len() >= HEADER_LEN && starts_with_magic(msg))
}

fn starts_with_magic(data: &[u8]) -> bool {
    data.len() >= 2 && u16::from_le_bytes([data[0], data[1]]) == MAGIC
}

/// Whether a received data-channel message is a chunk (as the JS receiver decides).
pub fn is_chunk(data: &[u8]) -> bool {
    data.len() >= HEADER_LEN && starts_with_magic(data)
}

/// A random message id below 32768 (`Math.floor(Math.random() * 256 * 128)`).
pub fn random_message_id(rng: &mut impl rand::RngCore) -> u16 {
    (rng.next_u32() % u32::from(MESSAGE_ID_LIMIT)) as u16
}

/// The largest message the P2PCF chunk header can describe: the chunk index is a `u16`, so
/// 65 536 chunks of 15 988 bytes (1 047 789 568 bytes, ≈ 999 MiB).
pub const MAX_WIRE_MESSAGE_LEN: usize = (u16::MAX as usize + 1) * MAX_CHUNK_PAYLOAD;

/// Splits `msg` into chunks lazily (each chunk is built when the iterator reaches it).
///
/// `message_id` is reduced modulo 32768. Messages longer than [`MAX_WIRE_MESSAGE_LEN`] cannot
/// be described by the header (the chunk index would wrap); callers must refuse them (the
/// iterator yields nothing).
/// Use [`needs_chunking`] to decide whether to call this at all.
pub fn split(msg: &[u8], message_id: u16) -> Chunks<'_> {
    Chunks {
        msg,
        message_id: message_id % MESSAGE_ID_LIMIT,
        offset: 0,
        index: 0,
        done: msg.len() > MAX_WIRE_MESSAGE_LEN,
    }
}

/// Iterator returned by [`split`].
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    msg: &'a [u8],
    message_id: u16,
    offset: usize,
    index: u16,
    done: bool,
}

impl Iterator for Chunks<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        // Same loop as the JS: `offset < byteLength`, so an empty message has no chunks.
        if self.done || self.offset >= self.msg.len() {
            return None;
        }
        let len = self.msg.len();
        let size = MAX_CHUNK_PAYLOAD.min(len - self.offset);
        let last = self.offset + MAX_CHUNK_PAYLOAD >= len;
        let mut buf = Vec::with_capacity((HEADER_LEN + size).next_multiple_of(4));
        buf.extend_from_slice(&MAGIC.to_le_bytes());
        buf.extend_from_slice(&self.message_id.to_le_bytes());
        buf.extend_from_slice(&self.index.to_le_bytes());
        buf.extend_from_slice(&u16::from(last).to_le_bytes());
        buf.extend_from_slice(&(len as u32).to_le_bytes());
        buf.extend_from_slice(&self.msg[self.offset..self.offset + size]);
        buf.resize((HEADER_LEN + size).next_multiple_of(4), 0);
        self.offset += size;
        // At most MAX_WIRE_MESSAGE_LEN bytes: the last chunk has index u16::MAX.
        self.index = self.index.wrapping_add(1);
        Some(buf)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = if self.done {
            0
        } else {
            (self.msg.len() - self.offset).div_ceil(MAX_CHUNK_PAYLOAD)
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for Chunks<'_> {}

/// A parsed chunk header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    pub message_id: u16,
    pub index: u16,
    pub last: bool,
    pub total_len: u32,
}

impl ChunkHeader {
    /// Reads the header of a chunk; `None` unless [`is_chunk`].
    pub fn parse(data: &[u8]) -> Option<Self> {
        if !is_chunk(data) {
            return None;
        }
        let u16_at = |i: usize| u16::from_le_bytes([data[i], data[i + 1]]);
        Some(Self {
            message_id: u16_at(2),
            index: u16_at(4),
            last: u16_at(6) != 0,
            total_len: u32::from_le_bytes([data[8], data[9], data[10], data[11]]),
        })
    }
}

/// Why a chunk was dropped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChunkError {
    /// Shorter than the header or without the magic word.
    #[error("not a chunk ({len} bytes)")]
    NotAChunk { len: usize },
    /// The announced total length exceeds the configured limit.
    #[error("message of {total_len} bytes exceeds the {limit} byte limit")]
    TooLarge { total_len: u32, limit: usize },
    /// The chunk index lies beyond the announced total length.
    #[error("chunk {index} is beyond a {total_len} byte message")]
    IndexOutOfRange { index: u16, total_len: u32 },
    /// The chunk announces a different total length than earlier chunks of the same message.
    #[error("message {message_id}: total length {got} differs from {expected}")]
    InconsistentLength {
        message_id: u16,
        expected: u32,
        got: u32,
    },
    /// `last` is set on a chunk that is not the final one, or missing on the final one.
    #[error("chunk {index}: wrong last flag")]
    BadLastFlag { index: u16 },
    /// The chunk carries fewer payload bytes than its position requires.
    #[error("chunk {index}: {got} payload bytes, expected {expected}")]
    Truncated {
        index: u16,
        expected: usize,
        got: usize,
    },
    /// A new message would exceed the in-flight message or buffered byte limits.
    #[error("too many partial messages in flight")]
    TooManyInFlight,
}

/// What happened to an accepted chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// The message is complete.
    Complete(Vec<u8>),
    /// Stored; more chunks are needed.
    Pending,
    /// This chunk had already been received; ignored.
    Duplicate,
}

/// Limits that bound what a peer can make us buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblerLimits {
    /// Largest accepted message (announced total length).
    pub max_message_size: usize,
    /// Largest number of partial messages kept at once.
    pub max_in_flight: usize,
    /// Largest sum of announced lengths of partial messages kept at once.
    pub max_buffered_bytes: usize,
    /// A partial message with no new chunk for this long is dropped by [`Reassembler::expire`].
    pub expiry_ms: u64,
}

impl Default for ReassemblerLimits {
    fn default() -> Self {
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_in_flight: 8,
            max_buffered_bytes: 2 * DEFAULT_MAX_MESSAGE_SIZE,
            expiry_ms: 60_000,
        }
    }
}

#[derive(Debug)]
struct Partial {
    total_len: u32,
    /// Grows as chunks arrive (never beyond `total_len`).
    data: Vec<u8>,
    received: Vec<u64>,
    remaining_chunks: usize,
    last_activity_ms: u64,
}

/// Reassembles chunked messages from ONE peer (keep one per peer: message ids are per sender).
#[derive(Debug, Default)]
pub struct Reassembler {
    limits: ReassemblerLimits,
    partial: HashMap<u16, Partial>,
}

fn chunk_count(total_len: u32) -> usize {
    // A zero-length message still has its one (empty) chunk.
    (total_len as usize).div_ceil(MAX_CHUNK_PAYLOAD).max(1)
}

impl Reassembler {
    /// A reassembler with the given limits.
    pub fn new(limits: ReassemblerLimits) -> Self {
        Self {
            limits,
            partial: HashMap::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &ReassemblerLimits {
        &self.limits
    }

    /// Number of partial messages held.
    pub fn in_flight(&self) -> usize {
        self.partial.len()
    }

    /// Feeds one received chunk. Errors mean the chunk was dropped (log the reason);
    /// the partial message it belonged to, if any, is kept.
    pub fn push(&mut self, now_ms: u64, chunk: &[u8]) -> Result<ChunkOutcome, ChunkError> {
        let header = ChunkHeader::parse(chunk).ok_or(ChunkError::NotAChunk { len: chunk.len() })?;
        let ChunkHeader {
            message_id,
            index,
            last,
            total_len,
        } = header;
        if total_len as usize > self.limits.max_message_size {
            return Err(ChunkError::TooLarge {
                total_len,
                limit: self.limits.max_message_size,
            });
        }
        let count = chunk_count(total_len);
        let idx = usize::from(index);
        if idx >= count {
            return Err(ChunkError::IndexOutOfRange { index, total_len });
        }
        if last != (idx + 1 == count) {
            return Err(ChunkError::BadLastFlag { index });
        }
        let start = idx * MAX_CHUNK_PAYLOAD;
        let expected = MAX_CHUNK_PAYLOAD.min(total_len as usize - start);
        let got = chunk.len() - HEADER_LEN;
        if got < expected {
            return Err(ChunkError::Truncated {
                index,
                expected,
                got,
            });
        }
        let payload = &chunk[HEADER_LEN..HEADER_LEN + expected];

        if let Some(p) = self.partial.get(&message_id) {
            if p.total_len != total_len {
                return Err(ChunkError::InconsistentLength {
                    message_id,
                    expected: p.total_len,
                    got: total_len,
                });
            }
        } else {
            if count == 1 {
                // Single-chunk message: no buffering needed.
                return Ok(ChunkOutcome::Complete(payload.to_vec()));
            }
            let buffered: usize = self.partial.values().map(|p| p.total_len as usize).sum();
            if self.partial.len() >= self.limits.max_in_flight
                || buffered + total_len as usize > self.limits.max_buffered_bytes
            {
                return Err(ChunkError::TooManyInFlight);
            }
            self.partial.insert(
                message_id,
                Partial {
                    total_len,
                    data: Vec::new(),
                    received: vec![0; count.div_ceil(64)],
                    remaining_chunks: count,
                    last_activity_ms: now_ms,
                },
            );
        }

        let Some(p) = self.partial.get_mut(&message_id) else {
            return Err(ChunkError::TooManyInFlight);
        };
        let (word, bit) = (idx / 64, 1u64 << (idx % 64));
        if p.received[word] & bit != 0 {
            return Ok(ChunkOutcome::Duplicate);
        }
        p.received[word] |= bit;
        p.remaining_chunks -= 1;
        p.last_activity_ms = now_ms;
        let end = start + expected;
        if p.data.len() < end {
            p.data.resize(end, 0);
        }
        p.data[start..end].copy_from_slice(payload);
        if p.remaining_chunks == 0 {
            let done = self
                .partial
                .remove(&message_id)
                .map(|p| p.data)
                .unwrap_or_default();
            return Ok(ChunkOutcome::Complete(done));
        }
        Ok(ChunkOutcome::Pending)
    }

    /// Drops partial messages idle for longer than `expiry_ms`; returns their ids.
    pub fn expire(&mut self, now_ms: u64) -> Vec<u16> {
        let expiry = self.limits.expiry_ms;
        let stale: Vec<u16> = self
            .partial
            .iter()
            .filter(|(_, p)| now_ms.saturating_sub(p.last_activity_ms) > expiry)
            .map(|(id, _)| *id)
            .collect();
        for id in &stale {
            self.partial.remove(id);
        }
        stale
    }

    /// When the next partial message would expire, if any.
    pub fn next_expiry(&self) -> Option<u64> {
        self.partial
            .values()
            .map(|p| p.last_activity_ms + self.limits.expiry_ms + 1)
            .min()
    }
}

#[cfg(test)]
#[path = "chunk_tests.rs"]
mod tests;
