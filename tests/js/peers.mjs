// Node controller for unmodified P2PCF clients in headless Chromium.
// Speaks JSON lines: commands on stdin, events on stdout (one JSON object per line).
// Diagnostics go to stderr. Protocol: see README.md next to this file.
//
// Env: CHROMIUM (default /usr/bin/chromium), HARNESS_TEXT_LIMIT is fixed in page/harness.js.
import { chromium } from 'playwright-core'
import { createServer } from 'node:http'
import { readFile } from 'node:fs/promises'
import { join, normalize } from 'node:path'
import { createInterface } from 'node:readline'
import { build } from './build.mjs'

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream'
]

const t0 = Date.now()
const stamp = () => ({ atMs: Date.now() })

function out (ev) {
  process.stdout.write(JSON.stringify(ev) + '\n')
}

function log (...args) {
  process.stderr.write(`[peers.mjs +${Date.now() - t0}ms] ${args.join(' ')}\n`)
}

// --- static page server on 127.0.0.1 (a secure context, so crypto.subtle works) -------------
const distDir = await build()
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' }
const http = createServer(async (req, res) => {
  try {
    const path = new URL(req.url, 'http://x').pathname
    if (path === '/favicon.ico') return res.writeHead(204).end()
    const rel = normalize(path === '/' ? '/index.html' : path).replace(/^(\.\.[/\\])+/, '')
    const body = await readFile(join(distDir, rel))
    const ext = rel.slice(rel.lastIndexOf('.'))
    res.writeHead(200, { 'content-type': types[ext] || 'application/octet-stream', 'cache-control': 'no-store' })
    res.end(body)
  } catch {
    res.writeHead(404).end('not found')
  }
})
await new Promise(resolve => http.listen(0, '127.0.0.1', resolve))
const pageUrl = `http://127.0.0.1:${http.address().port}/index.html`

// --- browser -------------------------------------------------------------------------------
// launch() always uses a fresh temporary user-data-dir (removed on close).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: CHROMIUM_ARGS
})
log('chromium', browser.version(), 'page', pageUrl)

/** id -> { context, page, sessionId } */
const pages = new Map()

function requirePage (id) {
  const entry = pages.get(id)
  if (!entry) throw new Error(`no page with id ${JSON.stringify(id)}`)
  return entry
}

async function open (cmd) {
  const { id, worker, room, client, options = {}, traceHttp = false } = cmd
  if (typeof id !== 'string' || !id) throw new Error('open needs a string "id"')
  if (pages.has(id)) throw new Error(`page ${id} already exists`)
  const context = await browser.newContext()
  const page = await context.newPage()
  const entry = { context, page, sessionId: null }
  pages.set(id, entry)
  await page.exposeFunction('__p2pcfEmit', ev => out(ev))
  page.on('console', msg => {
    const level = msg.type()
    if (level === 'error' || level === 'warning' || level === 'assert') {
      out({ ev: 'console', id, level, text: msg.text(), ...stamp() })
    }
  })
  page.on('pageerror', err => out({ ev: 'console', id, level: 'pageerror', text: String(err?.stack || err), ...stamp() }))
  page.on('crash', () => out({ ev: 'error', id, message: 'page crashed', ...stamp() }))
  if (traceHttp) {
    const workerOrigin = new URL(worker).origin
    page.on('requestfinished', async request => {
      if (new URL(request.url()).origin !== workerOrigin) return
      const response = await request.response().catch(() => null)
      out({
        ev: 'http',
        id,
        method: request.method(),
        workerMethod: request.headers()['x-worker-method'] ?? null,
        status: response ? response.status() : null,
        request: request.postData() ?? null,
        response: response ? await response.text().catch(() => null) : null,
        ...stamp()
      })
    })
    page.on('requestfailed', request => {
      if (new URL(request.url()).origin !== workerOrigin) return
      out({ ev: 'http', id, method: request.method(), status: null, failure: request.failure()?.errorText ?? 'failed', ...stamp() })
    })
  }
  await page.goto(pageUrl)
  await page.waitForFunction(() => window.__harnessLoaded === true)
  const info = await page.evaluate(args => window.harness.open(args), { id, worker, room, client, options })
  entry.sessionId = info.sessionId
  out({ ev: 'started', id, sessionId: info.sessionId, clientId: info.clientId, contextId: info.contextId, tag: cmd.tag, ...stamp() })
}

async function close (cmd) {
  const entry = requirePage(cmd.id)
  await entry.page.evaluate(() => window.harness.close())
  // Give the keepalive leave request a moment to be sent before the page goes away.
  await new Promise(resolve => setTimeout(resolve, cmd.lingerMs ?? 500))
  pages.delete(cmd.id)
  await entry.context.close()
  out({ ev: 'closed', id: cmd.id, tag: cmd.tag, ...stamp() })
}

async function handle (cmd) {
  switch (cmd.cmd) {
    case 'open': return open(cmd)
    case 'send':
      return requirePage(cmd.id).page.evaluate(a => window.harness.send(a), { to: cmd.to ?? null, text: String(cmd.text ?? ''), tag: cmd.tag })
    case 'sendBytes':
      return requirePage(cmd.id).page.evaluate(a => window.harness.sendBytes(a), {
        to: cmd.to ?? null, size: cmd.size, seed: cmd.seed ?? 0, count: cmd.count ?? 1, tag: cmd.tag
      })
    case 'peers': {
      const peers = await requirePage(cmd.id).page.evaluate(() => window.harness.peers())
      out({ ev: 'peers', id: cmd.id, peers, tag: cmd.tag, ...stamp() })
      return
    }
    case 'codecs': {
      const caps = await requirePage(cmd.id).page.evaluate(() => window.harness.codecCapabilities())
      out({ ev: 'codecs', id: cmd.id, ...caps, tag: cmd.tag, ...stamp() })
      return
    }
    case 'enableVideo': {
      const opts = { width: cmd.width ?? 640, height: cmd.height ?? 480, frameRate: cmd.frameRate ?? null, codec: cmd.codec ?? null }
      const info = await requirePage(cmd.id).page.evaluate(a => window.harness.enableVideo(a), opts)
      out({ ev: 'videoEnabled', id: cmd.id, ...info, tag: cmd.tag, ...stamp() })
      return
    }
    case 'disableVideo': {
      const info = await requirePage(cmd.id).page.evaluate(() => window.harness.disableVideo())
      out({ ev: 'videoDisabled', id: cmd.id, ...info, tag: cmd.tag, ...stamp() })
      return
    }
    case 'videoStats': {
      const remotes = await requirePage(cmd.id).page.evaluate(() => window.harness.videoStats())
      out({ ev: 'videoStats', id: cmd.id, remotes, tag: cmd.tag, ...stamp() })
      return
    }
    case 'snapshot': {
      if (typeof cmd.peer !== 'string') throw new Error('snapshot needs a string "peer" (remote session id)')
      const opts = { peer: cmd.peer, width: cmd.width ?? 160, height: cmd.height ?? null, rect: cmd.rect ?? null, timeoutMs: cmd.timeoutMs ?? 5000 }
      const snap = await requirePage(cmd.id).page.evaluate(a => window.harness.snapshot(a), opts)
      out({ ev: 'snapshot', id: cmd.id, ...snap, tag: cmd.tag, ...stamp() })
      return
    }
    case 'close': return close(cmd)
    case 'ping': out({ ev: 'pong', tag: cmd.tag, ...stamp() }); return
    case 'quit': return quit(0)
    default: throw new Error(`unknown cmd ${JSON.stringify(cmd.cmd)}`)
  }
}

let quitting = false
async function quit (code) {
  if (quitting) return
  quitting = true
  try {
    for (const [id, entry] of pages) {
      await entry.page.evaluate(() => window.harness.close()).catch(() => {})
      pages.delete(id)
    }
    await browser.close()
  } catch (err) {
    log('error while quitting:', err)
  }
  http.close()
  out({ ev: 'bye', ...stamp() })
  process.exit(code)
}

process.on('SIGINT', () => quit(0))
process.on('SIGTERM', () => quit(0))
browser.on('disconnected', () => {
  if (!quitting) {
    out({ ev: 'error', id: null, message: 'browser disconnected', ...stamp() })
    process.exit(1)
  }
})

// Commands for one page id run one after another, in the order given; commands for different
// pages run concurrently (a slow "open" must not block a "send" from another page).
const chains = new Map()
const rl = createInterface({ input: process.stdin })
rl.on('line', line => {
  if (!line.trim()) return
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch (err) {
    out({ ev: 'error', id: null, message: `bad JSON command: ${err.message}`, ...stamp() })
    return
  }
  const key = typeof cmd.id === 'string' ? cmd.id : ''
  const next = (chains.get(key) || Promise.resolve()).then(() => handle(cmd)).catch(err => {
    out({ ev: 'error', id: cmd.id ?? null, cmd: cmd.cmd, tag: cmd.tag, message: String(err?.message || err), ...stamp() })
  })
  chains.set(key, next)
})
rl.on('close', () => quit(0))

out({ ev: 'ready', page: pageUrl, chromium: browser.version(), ...stamp() })
