//! P2PCF wire types, the sans-IO poll protocol, the chunk codec and data-channel framing. No I/O.
