// Generates chunk.json / signal.json from the UNMODIFIED p2pcf 1.3.14 client code.
//
// Run from the repository root:
//   node crates/p2pcf-proto/tests/vectors/gen.mjs
//
// It bundles node_modules/p2pcf/src/p2pcf.js with esbuild (define global=window, as the
// package's own build script does), stubs the browser globals the module touches at load
// time, then calls P2PCF.prototype.send / _wireUpCommonPeerEvents with a fake connected
// peer that records every ArrayBuffer handed to peer.send().
import { EventEmitter } from 'node:events'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const jsRoot = join(here, '../../../../tests/js')
const esbuild = await import(pathToFileURL(join(jsRoot, 'node_modules/esbuild/lib/main.js')).href)

globalThis.window = globalThis
Object.defineProperty(globalThis, 'navigator', { value: { userAgent: 'node-vector-generator' }, configurable: true })
globalThis.history = { state: null, replaceState () {} }
globalThis.location = { href: 'http://localhost/' }

const out = join(mkdtempSync(join(tmpdir(), 'p2pcf-vec-')), 'p2pcf.mjs')
await esbuild.build({
  entryPoints: [join(jsRoot, 'node_modules/p2pcf/src/p2pcf.js')],
  bundle: true,
  format: 'esm',
  define: { global: 'window' },
  outfile: out,
  logLevel: 'error'
})
const { default: P2PCF } = await import(pathToFileURL(out).href)

const hex = buf => Buffer.from(buf).toString('hex')

// Deterministic content: byte i = (i * 31 + 7) & 0xff (the Rust test rebuilds it).
const pattern = len => {
  const u8 = new Uint8Array(len)
  for (let i = 0; i < len; i++) u8[i] = (i * 31 + 7) & 0xff
  return u8
}

function fakePeer () {
  const peer = new EventEmitter()
  peer.connected = true
  peer.sent = []
  peer.send = buf => peer.sent.push(hex(buf))
  return peer
}

const self = Object.create(P2PCF.prototype)
EventEmitter.call(self)

const chunkCases = []
const addCase = (description, input, messageId) => {
  // Math.floor(Math.random() * 256 * 128) === messageId
  const realRandom = Math.random
  Math.random = () => (messageId + 0.5) / 32768
  const peer = fakePeer()
  try {
    P2PCF.prototype.send.call(self, peer, input)
  } finally {
    Math.random = realRandom
  }
  chunkCases.push({ description, input_len: input.length, input_hex: input.length <= 64 ? hex(input) : null, message_id: messageId, frames_hex: peer.sent })
}

// (A 1-byte message makes the JS send() throw: new Uint16Array(buf, 0, 1) needs 2 bytes.)
for (const [len, id] of [[3, 7], [16000, 1234], [16001, 4321], [15988 * 2, 0], [15988 * 2 + 1, 32767], [100000 + 3, 16384]]) {
  addCase(`pattern of ${len} bytes`, pattern(len), id)
}
// A short message that starts with the chunk magic (8121 LE = b9 1f): the JS sender's check
// compares a Uint16Array with a number, so it is sent unchunked (documented JS bug).
const magicStart = pattern(20)
magicStart[0] = 0xb9; magicStart[1] = 0x1f
addCase('20 bytes starting with the chunk magic (JS sends it raw)', magicStart, 99)

// Signal framing: emit 'signal' on a wired-up peer, record the frames it sends.
const signalCases = []
const signals = [
  { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' },
  { type: 'answer', sdp: 'v=0\r\ns=-\r\n' },
  { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 2122260223 192.168.1.2 50000 typ host', sdpMLineIndex: 0, sdpMid: '0' } },
  { type: 'renegotiate', renegotiate: true },
  { type: 'transceiverRequest', transceiverRequest: { kind: 'video', init: { direction: 'sendrecv' } } },
  { type: 'transceiverRequest', transceiverRequest: { kind: 'audio', init: undefined } },
  { type: 'offer', sdp: 'x'.repeat(20000) } // large enough to be chunked too
]
for (const signal of signals) {
  const peer = fakePeer()
  P2PCF.prototype._wireUpCommonPeerEvents.call(self, peer)
  const realRandom = Math.random
  Math.random = () => (77 + 0.5) / 32768
  try {
    peer.emit('signal', signal)
  } finally {
    Math.random = realRandom
  }
  signalCases.push({ json: JSON.stringify(signal), message_id: 77, frames_hex: peer.sent })
}

writeFileSync(join(here, 'chunk.json'), JSON.stringify({ generator: 'gen.mjs with p2pcf 1.3.14', cases: chunkCases }, null, 1) + '\n')
writeFileSync(join(here, 'signal.json'), JSON.stringify({ generator: 'gen.mjs with p2pcf 1.3.14', cases: signalCases }, null, 1) + '\n')
console.log(`wrote ${chunkCases.length} chunk cases, ${signalCases.length} signal cases`)
