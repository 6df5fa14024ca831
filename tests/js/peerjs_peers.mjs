// Node controller for unmodified PeerJS clients (npm peerjs 1.5.5) in headless Chromium.
// Bundles page/peerjs_harness.js + peerjs with esbuild into dist/peerjs/, serves it on
// 127.0.0.1, and speaks JSON lines: commands on stdin, events on stdout (README.md).
//
// Commands: {"cmd":"open","id":P} (new context + page) → `opened`;
//   {"cmd":"eval","id":P,"fn":NAME,"args":{…},"tag":T} → window.harness[NAME](args) → `result`
//   {value, tag} (or `error` with the tag); {"cmd":"close","id":P} → `closed`; {"cmd":"quit"}.
// Page events (from window.harness) carry the page id. Env: CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core'
import * as esbuild from 'esbuild'
import { createServer } from 'node:http'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

// Same flags as peers.mjs (the P2PCF harness).
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

const here = dirname(fileURLToPath(import.meta.url))
const distDir = join(here, 'dist', 'peerjs')
const stamp = () => ({ atMs: Date.now() })
const out = ev => process.stdout.write(JSON.stringify(ev) + '\n')
const log = (...args) => process.stderr.write(`[peerjs_peers.mjs] ${args.join(' ')}\n`)

await mkdir(distDir, { recursive: true })
await esbuild.build({
  entryPoints: [join(here, 'page', 'peerjs_harness.js')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outfile: join(distDir, 'harness.js'),
  logLevel: 'warning'
})
await writeFile(join(distDir, 'index.html'), `<!doctype html>
<html><head><meta charset="utf-8"><title>peerjs harness</title></head>
<body><script type="module" src="./harness.js"></script></body></html>
`)

const http = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname
  const file = { '/': 'index.html', '/index.html': 'index.html', '/harness.js': 'harness.js' }[path]
  if (!file) return res.writeHead(404).end('not found')
  const type = file.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/html; charset=utf-8'
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' })
  res.end(await readFile(join(distDir, file)))
})
await new Promise(resolve => http.listen(0, '127.0.0.1', resolve))
const pageUrl = `http://127.0.0.1:${http.address().port}/index.html`

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: CHROMIUM_ARGS
})
log('chromium', browser.version(), 'page', pageUrl)

const pages = new Map()

function requirePage (id) {
  const page = pages.get(id)
  if (!page) throw new Error(`no page with id ${JSON.stringify(id)}`)
  return page
}

async function open (cmd) {
  const { id } = cmd
  if (typeof id !== 'string' || !id) throw new Error('open needs a string "id"')
  if (pages.has(id)) throw new Error(`page ${id} already exists`)
  const context = await browser.newContext()
  const page = await context.newPage()
  pages.set(id, page)
  await page.exposeFunction('__peerjsEmit', ev => out(ev))
  page.on('console', msg => {
    const level = msg.type()
    if (level === 'error' || level === 'warning' || level === 'assert') {
      out({ ev: 'console', id, level, text: msg.text(), ...stamp() })
    }
  })
  page.on('pageerror', err => out({ ev: 'console', id, level: 'pageerror', text: String(err?.stack || err), ...stamp() }))
  page.on('crash', () => out({ ev: 'error', id, message: 'page crashed', ...stamp() }))
  await page.goto(pageUrl)
  await page.waitForFunction(() => window.__harnessLoaded === true)
  out({ ev: 'opened', id, tag: cmd.tag, ...stamp() })
}

async function handle (cmd) {
  switch (cmd.cmd) {
    case 'open': return open(cmd)
    case 'eval': {
      const value = await requirePage(cmd.id).evaluate(
        ({ fn, args }) => window.harness[fn](args), { fn: cmd.fn, args: cmd.args ?? {} })
      out({ ev: 'result', id: cmd.id, fn: cmd.fn, value: value ?? null, tag: cmd.tag, ...stamp() })
      return
    }
    case 'close': {
      const page = requirePage(cmd.id)
      pages.delete(cmd.id)
      await page.context().close()
      out({ ev: 'closed', id: cmd.id, tag: cmd.tag, ...stamp() })
      return
    }
    case 'quit': return quit(0)
    default: throw new Error(`unknown cmd ${JSON.stringify(cmd.cmd)}`)
  }
}

let quitting = false
async function quit (code) {
  if (quitting) return
  quitting = true
  try {
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

// Commands for one page run one after another; different pages run concurrently.
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
    out({ ev: 'error', id: cmd.id ?? null, cmd: cmd.cmd, fn: cmd.fn, tag: cmd.tag, message: String(err?.message || err), ...stamp() })
  })
  chains.set(key, next)
})
rl.on('close', () => quit(0))

out({ ev: 'ready', page: pageUrl, chromium: browser.version(), ...stamp() })
