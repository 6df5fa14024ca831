// Runs inside each Chromium page: one page = one unmodified P2PCF client.
// The controller (peers.mjs) calls window.harness.* through page.evaluate and receives events
// through the exposed binding window.__p2pcfEmit(event). Events are delivered in order: async
// work (sha256) is serialised through one promise chain.
import P2PCF from 'p2pcf'
import * as video from './video.js'

let p2pcf = null
let pageId = null
let queue = Promise.resolve()
const MAX_TEXT_BYTES = 4096

const now = () => ({ atMs: Date.now(), perfMs: performance.now() })

function emit (ev) {
  // Keep order even when some events need an await (hashing).
  queue = queue.then(async () => {
    const resolved = typeof ev === 'function' ? await ev() : ev
    await window.__p2pcfEmit({ id: pageId, ...resolved })
  }).catch(err => {
    console.error('harness emit failed', err)
  })
  return queue
}

async function sha256Hex (bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes)
  return [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('')
}

function textOf (bytes) {
  if (bytes.byteLength > MAX_TEXT_BYTES) return undefined
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
}

/** Deterministic bytes: xorshift32 from (seed >>> 0) || 0x9e3779b9, each step's u32 written little-endian. */
export function seededBytes (size, seed) {
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

function targets (to) {
  if (!p2pcf) throw new Error('not open')
  if (to === null || to === undefined) return [...p2pcf.peers.values()]
  const peer = p2pcf.peers.get(to)
  if (!peer) throw new Error(`no peer with session id ${to}`)
  return [peer]
}

// Chrome fails a data channel whose send queue overflows; wait while it drains.
async function drain (peers, limit = 1 << 20) {
  while (peers.some(p => p.connected && p.bufferSize > limit)) {
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

function sendTo (peers, bytes) {
  for (const peer of peers) p2pcf.send(peer, bytes)
}

window.harness = {
  async open ({ id, worker, room, client, options = {} }) {
    if (p2pcf) throw new Error('already open')
    pageId = id
    p2pcf = new P2PCF(client, room, {
      stunIceServers: [],
      turnIceServers: [],
      ...options,
      workerUrl: worker
    })
    p2pcf.on('peerconnect', peer => {
      emit({ ev: 'peerconnect', peer: peer.id, client: peer.client_id, ...now() })
      video.onPeerConnect(peer)
    })
    p2pcf.on('peerclose', peer => {
      emit({ ev: 'peerclose', peer: peer.id, client: peer.client_id, ...now() })
      video.onPeerClose(peer)
    })
    p2pcf.on('msg', (peer, data) => {
      const t = now()
      const bytes = new Uint8Array(data.slice(0))
      emit(async () => ({
        ev: 'msg',
        peer: peer.id,
        client: peer.client_id,
        size: bytes.byteLength,
        sha256: await sha256Hex(bytes),
        text: textOf(bytes),
        ...t
      }))
    })
    await p2pcf.start()
    return { sessionId: p2pcf.sessionId, clientId: p2pcf.clientId, contextId: p2pcf.contextId }
  },

  async send ({ to, text, tag }) {
    const peers = targets(to)
    const bytes = new TextEncoder().encode(text)
    sendTo(peers, bytes)
    const t = now()
    await emit(async () => ({
      ev: 'sent', to: to ?? null, peers: peers.map(p => p.id), size: bytes.byteLength,
      sha256: await sha256Hex(bytes), tag, seq: 0, ...t
    }))
  },

  async sendBytes ({ to, size, seed = 0, count = 1, tag }) {
    const peers = targets(to)
    for (let k = 0; k < count; k++) {
      const bytes = seededBytes(size, (seed + k) >>> 0)
      await drain(peers)
      sendTo(peers, bytes)
      const t = now()
      emit(async () => ({
        ev: 'sent', to: to ?? null, peers: peers.map(p => p.id), size,
        sha256: await sha256Hex(bytes), tag, seq: k, seed: (seed + k) >>> 0, ...t
      }))
    }
    await queue
  },

  peers () {
    if (!p2pcf) return []
    return [...p2pcf.peers.values()].map(p => ({ peer: p.id, client: p.client_id, connected: !!p.connected }))
  },

  // Video (page/video.js): the local fake camera to every peer, remote tracks in <video> tiles.
  codecCapabilities: () => video.codecCapabilities(),
  enableVideo (opts) {
    if (!p2pcf) throw new Error('not open')
    return video.enableVideo(opts, [...p2pcf.peers.values()])
  },
  disableVideo: () => video.disableVideo(),
  videoStats: () => video.videoStats(),
  snapshot: opts => video.snapshot(opts),

  close () {
    if (!p2pcf) return
    p2pcf.destroy()
  }
}

video.setupVideo({ emit, now })
window.__harnessLoaded = true
