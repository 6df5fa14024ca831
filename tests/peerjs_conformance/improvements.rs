//! The allow-list: the only places where our PeerJS endpoint may answer differently from the
//! official server (npm `peer@1.0.2`). Each variant mirrors an item of "PeerJS endpoint … Deliberate
//! differences from the official server" in the `p2pcf-server` crate docs (numbers in brackets).
//! An observation whose answers differ between the two servers must name one of these and state
//! our exact answer; any other difference fails.
//!
//! Items without a variant: [2] queue caps, [10] dead sockets and [14] stalled connections are
//! covered by `crates/p2pcf-server/tests/peerjs_*.rs` (the official server has no caps to compare
//! with); [4] the default limit (both servers run with the same limit here); [7] short ids (not
//! the default); [9] needs no allowance (relayed as upstream, checked in `relay_types`); [11]
//! expiry precision is inside the window both servers must meet; [13] `X-Powered-By`/`ETag` are
//! not compared headers.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Improvement {
    /// [1] A same-token re-attach gets `OPEN` (the official server sends nothing, so a client
    /// whose old socket was half-open never sees `open` after `reconnect()`), and the replaced
    /// socket is closed (the official server leaves it open).
    OpenOnReattach,
    /// [3] A frame over `max_frame_bytes` (64 KiB) closes that socket with 1009 and is not
    /// relayed (the official server accepts up to 100 MiB).
    FrameSizeLimit,
    /// [5] A `dst` that is a number, `true` or an object is dropped (the official server queues
    /// it under that value and later sends an `EXPIRE` whose `src` is not a string).
    OddDstDropped,
    /// [6] Ids the PeerJS client would refuse (`validateId`) or longer than 256 bytes get
    /// `ERROR` "Invalid id provided" and a close (the official server registers anything).
    InvalidIdsRefused,
    /// [8] `LEAVE` without `dst` deregisters the sender and closes its socket, so a later holder
    /// of the id stays registered when the old socket ends (the official server leaves the socket
    /// open and deregisters the new holder when it closes).
    LeaveWithoutDst,
    /// [12] `payload` is forwarded as the client sent it, minus insignificant whitespace (the
    /// official server re-serialises it: `\u00e9` → `é`, `1.0` → `1`).
    PayloadVerbatim,
}
