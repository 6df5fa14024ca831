//! The P2PCF client: HTTP polling transport, webrtc-rs peer connections and the public async handle.
