// Runs the unmodified P2PCF worker.js (from the npm package) under miniflare, with an R2 bucket
// bound as BUCKET, on 127.0.0.1. Prints one JSON line {"url": "..."} when ready, then runs until
// stdin closes or it gets SIGINT/SIGTERM.
//
// Env: PORT (default 0 = any), ALLOWED_ORIGINS, ORIGIN_QUOTA (passed to the worker as bindings).
import { Miniflare } from 'miniflare'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
const workerPath = join(dirname(require.resolve('p2pcf/package.json')), 'src', 'worker.js')

const bindings = {}
for (const name of ['ALLOWED_ORIGINS', 'ORIGIN_QUOTA']) {
  if (process.env[name] !== undefined) bindings[name] = process.env[name]
}

const mf = new Miniflare({
  modules: true,
  scriptPath: workerPath,
  r2Buckets: ['BUCKET'],
  bindings,
  host: '127.0.0.1',
  port: Number(process.env.PORT || 0)
})

const url = await mf.ready
process.stdout.write(JSON.stringify({ url: String(url) }) + '\n')

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  await mf.dispose()
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
