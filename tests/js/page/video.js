// Video for the harness page, done the way P2PCF's own chat+video example does it: the local
// camera stream goes to every peer with peer.addStream(stream) (now, and on every later
// 'peerconnect'), and every remote 'track' is shown in a <video autoplay muted playsinline>.
// Renegotiation runs over the data channel inside P2PCF / tiny-simple-peer; nothing here touches
// SDP. Chromium runs with --use-fake-device-for-media-stream, so getUserMedia gives its fake camera.

/** Local camera: { stream, codec } or null. */
let local = null
/** peer -> the local MediaStream added to it (so each peer gets it once, and removal is exact). */
const sentTo = new Map()
/** remote session id -> tile (the newest one for that peer). */
const tiles = new Map()
let tileContainer = null
let emitEvent = () => {}
let clock = () => ({})

/** Wires the video module to the harness: `emit(event)` and `now()` (timestamps). */
export function setupVideo ({ emit, now }) {
  emitEvent = emit
  clock = now
}

function capabilities (kind = 'video') {
  const list = caps => (caps?.codecs ?? []).map(c => ({
    mimeType: c.mimeType, clockRate: c.clockRate, sdpFmtpLine: c.sdpFmtpLine ?? null
  }))
  return { send: list(RTCRtpSender.getCapabilities(kind)), recv: list(RTCRtpReceiver.getCapabilities(kind)) }
}

export function codecCapabilities () {
  return capabilities('video')
}

// Codecs whose mimeType equals `mimeType` (case-insensitive) first, then all the others in
// Chromium's order: a preference, not an exclusion (so the other side can still answer).
function preferredCodecs (mimeType) {
  const all = RTCRtpReceiver.getCapabilities('video')?.codecs ?? []
  const wanted = all.filter(c => c.mimeType.toLowerCase() === mimeType.toLowerCase())
  if (!wanted.length) throw new Error(`codec ${mimeType} not offered by this Chromium (receiver capabilities)`)
  return [...wanted, ...all.filter(c => !wanted.includes(c))]
}

// Two steps, because which side's codec order wins depends on who makes the offer (Chromium
// sends with the first codec of the REMOTE description): (1) codec preferences on our transceiver
// shape our offer or answer; (2) once a negotiation is done, the sender is pinned to the codec
// with RTCRtpSender.setParameters (encodings[].codec), if that codec was negotiated.
function applyCodec (peer, stream, codec) {
  if (!codec) return
  const ids = new Set(stream.getTracks().map(t => t.id))
  for (const tr of peer._pc.getTransceivers()) {
    if (tr.sender.track && ids.has(tr.sender.track.id)) tr.setCodecPreferences(preferredCodecs(codec))
  }
  if (!peer.__harnessCodecHook) {
    peer.__harnessCodecHook = true
    peer.on('negotiated', () => pinCodec(peer).catch(err => console.error('harness: pinning codec failed', err)))
  }
}

const pinned = new WeakMap() // sender -> mimeType/fmtp it is pinned to

async function pinCodec (peer) {
  const stream = sentTo.get(peer)
  if (!local?.codec || !stream || peer.destroyed) return
  const ids = new Set(stream.getTracks().map(t => t.id))
  for (const sender of peer._pc.getSenders()) {
    if (!sender.track || !ids.has(sender.track.id)) continue
    const params = sender.getParameters()
    const match = (params.codecs ?? []).find(c => c.mimeType.toLowerCase() === local.codec.toLowerCase())
    if (!match || !params.encodings?.length) continue // not (yet) negotiated with this peer
    const key = `${match.mimeType} ${match.sdpFmtpLine ?? ''}`
    if (pinned.get(sender) === key) continue
    const codec = { mimeType: match.mimeType, clockRate: match.clockRate }
    if (match.sdpFmtpLine) codec.sdpFmtpLine = match.sdpFmtpLine
    if (match.channels) codec.channels = match.channels
    params.encodings = params.encodings.map(e => ({ ...e, codec }))
    await sender.setParameters(params)
    pinned.set(sender, key)
    emitEvent({ ev: 'videocodec', peer: peer.id, codec: match.mimeType, sdpFmtpLine: match.sdpFmtpLine ?? null, ...clock() })
  }
}

function addTo (peer) {
  if (!local || sentTo.has(peer) || peer.destroyed || peer.destroying) return false
  // addStream → addTrack → renegotiation in a microtask, so the codec preference set right after
  // it is in place before the offer (or the answer) is made.
  peer.addStream(local.stream)
  applyCodec(peer, local.stream, local.codec)
  sentTo.set(peer, local.stream)
  return true
}

/** P2PCF 'peerconnect': send our camera if on, and start showing the peer's tracks. */
export function onPeerConnect (peer) {
  try {
    addTo(peer)
  } catch (err) {
    console.error('harness: addStream on peerconnect failed', err)
  }
  if (!peer.__harnessTrackHook) {
    peer.__harnessTrackHook = true
    peer.on('track', (track, stream) => onRemoteTrack(peer, track, stream))
    // A renegotiation sent by the remote right after its own 'connect' can deliver tracks before
    // our 'peerconnect' fires; tiny-simple-peer keeps them in _remoteTracks.
    for (const { track, stream } of peer._remoteTracks ?? []) onRemoteTrack(peer, track, stream)
  }
}

/** P2PCF 'peerclose': its tile ends, and it no longer holds our stream. */
export function onPeerClose (peer) {
  sentTo.delete(peer)
  const tile = tiles.get(peer.id)
  if (tile && !tile.ended) endTile(tile, 'peerclose')
}

export async function enableVideo ({ width = 640, height = 480, frameRate, codec = null } = {}, peers) {
  if (local) throw new Error('video already enabled')
  if (codec) preferredCodecs(codec) // fail early on an unknown codec
  const video = { width, height }
  if (frameRate) video.frameRate = frameRate
  const stream = await navigator.mediaDevices.getUserMedia({ video, audio: false })
  local = { stream, codec }
  const added = []
  for (const peer of peers) {
    if (!peer.connected) continue // it gets the stream on 'peerconnect'
    if (addTo(peer)) added.push(peer.id)
  }
  const track = stream.getVideoTracks()[0]
  return { trackId: track.id, streamId: stream.id, settings: track.getSettings(), codec, peers: added }
}

export function disableVideo () {
  if (!local) return { peers: [], wasEnabled: false }
  const removed = []
  for (const [peer, stream] of sentTo) {
    if (peer.destroyed || peer.destroying) continue
    try {
      peer.removeStream(stream)
      removed.push(peer.id)
    } catch (err) {
      console.error('harness: removeStream failed', err)
    }
  }
  sentTo.clear()
  for (const track of local.stream.getTracks()) track.stop()
  local = null
  return { peers: removed, wasEnabled: true }
}

function container () {
  if (!tileContainer) {
    tileContainer = document.createElement('div')
    tileContainer.id = 'tiles'
    document.body.appendChild(tileContainer)
  }
  return tileContainer
}

function onRemoteTrack (peer, track, stream) {
  let tile = tiles.get(peer.id)
  if (tile && !tile.ended && tile.stream !== stream) endTile(tile, 'replaced')
  if (!tile || tile.ended) tile = newTile(peer, stream, tile ? tile.tile + 1 : 1)
  if (tile.tracks.has(track)) return
  tile.tracks.add(track)
  emitEvent({ ev: 'remotetrack', peer: peer.id, client: peer.client_id, kind: track.kind, trackId: track.id, streamId: stream.id, tile: tile.tile, ...clock() })
  const gone = reason => {
    if (!tile.tracks.delete(track)) return
    emitEvent({ ev: 'remotetrackended', peer: peer.id, trackId: track.id, reason, tile: tile.tile, ...clock() })
    if (tile.tracks.size === 0 && !tile.ended) endTile(tile, reason)
  }
  track.addEventListener('ended', () => gone('ended'))
  // Unified plan: when the remote stops sending (removeTrack + renegotiation) the track is muted
  // and removed from its stream; it only 'ends' when the transceiver stops or the peer closes.
  stream.addEventListener('removetrack', e => { if (e.track === track) gone('removed') })
}

function newTile (peer, stream, number) {
  const video = document.createElement('video')
  video.autoplay = true
  video.muted = true
  video.playsInline = true
  video.setAttribute('playsinline', '')
  video.dataset.peer = peer.id
  video.width = 320
  video.height = 240
  const tile = {
    peer, tile: number, stream, video, tracks: new Set(), framesRendered: 0, lastFrameAt: null,
    lastFrame: null, ended: false, endedReason: null, endedAt: null, frameWaiters: []
  }
  const onFrame = (nowPerf, meta) => {
    if (tile.ended) return
    tile.framesRendered++
    tile.lastFrameAt = Date.now()
    tile.lastFrame = meta
    const waiters = tile.frameWaiters
    tile.frameWaiters = []
    for (const w of waiters) w(meta)
    video.requestVideoFrameCallback(onFrame)
  }
  video.requestVideoFrameCallback(onFrame)
  video.srcObject = stream
  container().appendChild(video)
  video.play().catch(err => console.warn('harness: video.play() failed', String(err)))
  tiles.set(peer.id, tile)
  return tile
}

function endTile (tile, reason) {
  tile.ended = true
  tile.endedReason = reason
  tile.endedAt = Date.now()
  tile.video.srcObject = null
  tile.video.remove()
  for (const w of tile.frameWaiters) w(null)
  tile.frameWaiters = []
  emitEvent({ ev: 'videoended', peer: tile.peer.id, tile: tile.tile, reason, ...clock() })
}

// Codec and decoder counters of the tile's inbound RTP stream (null when not available).
async function inbound (tile) {
  const pc = tile.peer._pc
  if (!pc || tile.ended) return null
  const ids = new Set([...tile.tracks].map(t => t.id))
  let report
  try {
    report = await pc.getStats()
  } catch {
    return null
  }
  for (const s of report.values()) {
    if (s.type !== 'inbound-rtp' || s.kind !== 'video' || !ids.has(s.trackIdentifier)) continue
    const codec = s.codecId ? report.get(s.codecId) : null
    return {
      codec: codec?.mimeType ?? null,
      sdpFmtpLine: codec?.sdpFmtpLine ?? null,
      framesDecoded: s.framesDecoded ?? null,
      framesReceived: s.framesReceived ?? null,
      decoderImplementation: s.decoderImplementation ?? null
    }
  }
  return null
}

export async function videoStats () {
  const out = {}
  for (const [id, tile] of tiles) {
    out[id] = {
      peer: id,
      client: tile.peer.client_id,
      tile: tile.tile,
      streamId: tile.stream.id,
      tracks: tile.tracks.size,
      videoWidth: tile.ended ? 0 : tile.video.videoWidth,
      videoHeight: tile.ended ? 0 : tile.video.videoHeight,
      framesRendered: tile.framesRendered,
      lastFrameAt: tile.lastFrameAt,
      ended: tile.ended,
      endedReason: tile.endedReason,
      endedAt: tile.endedAt,
      ...(await inbound(tile) ?? { codec: null, sdpFmtpLine: null, framesDecoded: null, framesReceived: null, decoderImplementation: null })
    }
  }
  return out
}

function base64 (bytes) {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}

const epoch = perf => (typeof perf === 'number' ? performance.timeOrigin + perf : null)

/**
 * Grayscale (BT.601 luma) of the next frame presented for `peer`'s tile: the source rectangle
 * `rect` ({x, y, w, h} in video pixels; default the whole frame) scaled to `width` x `height`
 * (default width 160, height keeping the aspect ratio). Drawn inside requestVideoFrameCallback,
 * so `frame` describes exactly the frame captured.
 */
export async function snapshot ({ peer, width = 160, height = null, rect = null, timeoutMs = 5000 }) {
  const tile = tiles.get(peer)
  if (!tile || tile.ended) throw new Error(`no live video tile for peer ${peer}`)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no frame from ${peer} within ${timeoutMs} ms`)), timeoutMs)
    // Runs synchronously inside the frame callback, so the video element shows `meta`'s frame.
    tile.frameWaiters.push(meta => {
      clearTimeout(timer)
      if (!meta) return reject(new Error(`tile of ${peer} ended while waiting for a frame`))
      try {
        resolve(grab(tile, meta, { width, height, rect }))
      } catch (err) {
        reject(err)
      }
    })
  })
}

function grab (tile, meta, { width, height, rect }) {
  const vw = tile.video.videoWidth
  const vh = tile.video.videoHeight
  const r = rect ?? { x: 0, y: 0, w: vw, h: vh }
  if (!(r.w > 0 && r.h > 0)) throw new Error(`empty snapshot rectangle ${JSON.stringify(r)} (video ${vw}x${vh})`)
  const w = Math.max(1, Math.round(width))
  const h = Math.max(1, Math.round(height ?? (w * r.h) / r.w))
  const canvas = document.createElement('canvas')
  canvas.width = w
  canvas.height = h
  const ctx = canvas.getContext('2d', { willReadFrequently: true })
  ctx.drawImage(tile.video, r.x, r.y, r.w, r.h, 0, 0, w, h)
  const drawnAt = Date.now()
  const rgba = ctx.getImageData(0, 0, w, h).data
  const luma = new Uint8Array(w * h)
  for (let i = 0, p = 0; p < luma.length; i += 4, p++) {
    luma[p] = Math.round(0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2])
  }
  return {
    peer: tile.peer.id,
    tile: tile.tile,
    width: w,
    height: h,
    rect: r,
    videoWidth: vw,
    videoHeight: vh,
    format: 'gray8',
    data: base64(luma),
    drawnAt,
    frame: {
      presentedFrames: meta.presentedFrames ?? null,
      mediaTime: meta.mediaTime ?? null,
      rtpTimestamp: meta.rtpTimestamp ?? null,
      width: meta.width ?? null,
      height: meta.height ?? null,
      expectedDisplayAt: epoch(meta.expectedDisplayTime),
      presentedAt: epoch(meta.presentationTime),
      receivedAt: epoch(meta.receiveTime),
      capturedAt: epoch(meta.captureTime)
    }
  }
}
