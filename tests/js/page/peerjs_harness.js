// Runs inside each Chromium page: one page = one unmodified PeerJS `Peer` (npm peerjs 1.5.5).
// The controller (peerjs_peers.mjs) calls window.harness.* through page.evaluate and receives
// events through the exposed binding window.__peerjsEmit(event). Events keep their order (async
// work such as hashing is serialised through one promise chain).
import { Peer } from 'peerjs'

let peer = null
let pageId = null
let queue = Promise.resolve()
let camera = null
const conns = new Map() // label -> DataConnection (outgoing and incoming)
const remotes = new Map() // remote peer id -> { video, frames, call }
const MAX_TEXT = 4096

const now = () => ({ atMs: Date.now(), perfMs: performance.now() })

function emit (ev) {
  queue = queue.then(async () => {
    const resolved = typeof ev === 'function' ? await ev() : ev
    await window.__peerjsEmit({ id: pageId, ...resolved })
  }).catch(err => console.error('harness emit failed', err))
  return queue
}

async function sha256Hex (bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes)
  return [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('')
}

/** xorshift32 from (seed >>> 0) || 0x9e3779b9, each u32 little-endian (as page/harness.js). */
function seededBytes (size, seed) {
  const out = new Uint8Array(size)
  let x = (seed >>> 0) || 0x9e3779b9
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    for (let j = 0; j < 4 && i + j < size; j++) out[i + j] = (x >>> (8 * j)) & 0xff
  }
  return out
}

/** What arrived, as JSON-able fields: strings as text, bytes as size + sha256, else JSON. */
async function describe (data) {
  if (typeof data === 'string') return { kind: 'string', text: data.length <= MAX_TEXT ? data : undefined, size: data.length }
  let bytes = null
  if (data instanceof ArrayBuffer) bytes = new Uint8Array(data)
  else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  else if (data instanceof Blob) bytes = new Uint8Array(await data.arrayBuffer())
  if (bytes) return { kind: 'bytes', type: data.constructor.name, size: bytes.byteLength, sha256: await sha256Hex(bytes) }
  return { kind: 'json', json: data }
}

function watchConnection (conn, direction) {
  conns.set(conn.label, conn)
  const base = () => ({ peer: conn.peer, label: conn.label, serialization: conn.serialization, ...now() })
  conn.on('open', () => emit({ ev: 'connopen', direction, ...base() }))
  conn.on('data', data => {
    const at = now()
    emit(async () => ({ ev: 'data', peer: conn.peer, label: conn.label, ...(await describe(data)), ...at }))
  })
  conn.on('close', () => emit({ ev: 'connclose', direction, ...base() }))
  conn.on('error', err => emit({ ev: 'connerror', type: err?.type ?? null, message: String(err?.message || err), ...base() }))
}

function watchCall (call, direction) {
  const entry = { video: null, frames: 0, call }
  remotes.set(call.peer, entry)
  call.on('stream', stream => {
    if (entry.video) return // 'stream' fires once per track
    const video = document.createElement('video')
    video.autoplay = true
    video.muted = true
    video.playsInline = true
    video.srcObject = stream
    document.body.appendChild(video)
    entry.video = video
    const count = () => {
      entry.frames++
      video.requestVideoFrameCallback(count)
    }
    video.requestVideoFrameCallback(count)
    video.play().catch(err => console.error('play failed', err))
    emit({ ev: 'stream', direction, peer: call.peer, tracks: stream.getTracks().map(t => t.kind), ...now() })
  })
  call.on('close', () => emit({ ev: 'callclose', direction, peer: call.peer, ...now() }))
  call.on('error', err => emit({ ev: 'callerror', peer: call.peer, type: err?.type ?? null, message: String(err?.message || err), ...now() }))
}

async function getCamera () {
  if (!camera) camera = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: false })
  return camera
}

function requirePeer () {
  if (!peer) throw new Error('no Peer yet (call create first)')
  return peer
}

window.harness = {
  /**
   * new Peer([peerId,] {host, port, path, config: {iceServers: []}, ...options}); resolves with
   * {peerId} on 'open', or {error: {type, message}} if the Peer errors first.
   */
  create ({ id, host, port, path, peerId = null, options = {} }) {
    if (peer) throw new Error('already created')
    pageId = id
    const opts = { host, port, path, config: { iceServers: [] }, debug: 0, ...options }
    peer = peerId ? new Peer(peerId, opts) : new Peer(opts)
    peer.on('open', pid => emit({ ev: 'open', peerId: pid, ...now() }))
    peer.on('error', err => emit({ ev: 'peererror', type: err?.type ?? null, message: String(err?.message || err), ...now() }))
    peer.on('disconnected', pid => emit({ ev: 'disconnected', peerId: pid, ...now() }))
    peer.on('close', () => emit({ ev: 'peerclose', ...now() }))
    peer.on('connection', conn => {
      emit({ ev: 'connection', peer: conn.peer, label: conn.label, serialization: conn.serialization, ...now() })
      watchConnection(conn, 'in')
    })
    peer.on('call', async call => {
      emit({ ev: 'call', peer: call.peer, ...now() })
      watchCall(call, 'in')
      call.answer(await getCamera())
    })
    return new Promise(resolve => {
      peer.once('open', pid => resolve({ peerId: pid }))
      peer.once('error', err => resolve({ error: { type: err?.type ?? null, message: String(err?.message || err) } }))
    })
  },

  /** peer.connect(to, {label, serialization, reliable: true}); returns at once with the time. */
  connect ({ to, label, serialization }) {
    const conn = requirePeer().connect(to, { label, serialization, reliable: true })
    watchConnection(conn, 'out')
    return { label: conn.label, ...now() }
  },

  /** Sends a string (or, with `json`, a JSON value) on connection `label`. */
  send ({ label, text, json }) {
    const conn = conns.get(label)
    if (!conn) throw new Error(`no connection ${label}`)
    conn.send(json !== undefined ? json : text)
    return now()
  },

  /** Sends `size` deterministic bytes (seed) as one message; returns their sha256. */
  async sendBytes ({ label, size, seed }) {
    const conn = conns.get(label)
    if (!conn) throw new Error(`no connection ${label}`)
    const bytes = seededBytes(size, seed)
    const sha256 = await sha256Hex(bytes)
    conn.send(bytes)
    return { size, sha256, ...now() }
  },

  /** Calls `to` with the fake camera. */
  async call ({ to }) {
    const call = requirePeer().call(to, await getCamera())
    watchCall(call, 'out')
    return now()
  },

  /** Frames rendered per remote peer. */
  videoStats () {
    const out = {}
    for (const [pid, entry] of remotes) {
      out[pid] = { frames: entry.frames, videoWidth: entry.video?.videoWidth ?? 0, videoHeight: entry.video?.videoHeight ?? 0 }
    }
    return out
  },

  /** Closes the signalling WebSocket under the Peer (as a network drop would). */
  dropSocket () {
    const ws = requirePeer().socket._socket
    if (!ws) throw new Error('no socket')
    ws.close()
    return now()
  },

  reconnect () {
    requirePeer().reconnect()
    return now()
  },

  destroy () {
    requirePeer().destroy()
    return now()
  },

  state () {
    const p = requirePeer()
    return { id: p.id, open: p.open, disconnected: p.disconnected, destroyed: p.destroyed }
  }
}
window.__harnessLoaded = true
