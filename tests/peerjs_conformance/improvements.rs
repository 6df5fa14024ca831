//! The allow-list: the only places where our PeerJS endpoint may answer differently from the
//! official server (npm `peer@1.0.2`). Each variant mirrors an item of the PeerJS differences
//! documented in the `p2pcf-server` crate docs (`crates/p2pcf-server/src/peerjs`). An observation
//! whose answers differ between the two servers must name one of these and state our exact
//! answer; any other difference fails.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Improvement {
    /// A same-token re-attach gets `OPEN` (the official server sends nothing, so a client whose
    /// old socket was half-open never sees `open` after `reconnect()`).
    OpenOnReattach,
    /// The socket a same-token re-attach replaces is closed (the official server leaves it
    /// open, still sending as that id).
    ReattachClosesOldSocket,
    /// Ids the PeerJS client would refuse (`validateId`) or longer than 256 bytes get `ERROR`
    /// "Invalid id provided" and are closed (the official server registers anything).
    InvalidIdsRefused,
    /// A frame over `max_frame_bytes` (64 KiB) closes that socket with 1009 (the official
    /// server accepts up to 100 MiB).
    FrameSizeLimit,
    /// `LEAVE` without `dst` deregisters the sender and closes its socket (the official server
    /// leaves it open).
    LeaveClosesSocket,
    /// After a `LEAVE` without `dst`, a later holder of that id stays registered when the old
    /// socket closes (the official server deregisters it).
    NoStaleDeregistration,
}
