// Runs the official PeerJS server (npm `peer` 1.0.2, unmodified, used as a library through its
// `PeerServer`) on 127.0.0.1 and a free port. Prints one JSON line {"port": N, "path": P} when
// listening, then one line per server event: {"ev":"error","message":…} (with this `error`
// listener an invalid JSON frame is reported instead of crashing the process),
// {"ev":"connection","id":…}, {"ev":"disconnect","id":…}. Runs until stdin closes or it gets
// SIGINT/SIGTERM.
//
// Usage: node peerjs_server.mjs [--path /peerjs] [--key peerjs] [--expire-timeout 5000]
//          [--alive-timeout 90000] [--concurrent-limit 5000] [--allow-discovery]
//          [--cleanup-out-msgs 1000]
import { PeerServer } from 'peer'

function parseArgs (argv) {
  const opts = {}
  const numbers = {
    '--expire-timeout': 'expire_timeout',
    '--alive-timeout': 'alive_timeout',
    '--concurrent-limit': 'concurrent_limit',
    '--cleanup-out-msgs': 'cleanup_out_msgs'
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--allow-discovery') {
      opts.allow_discovery = true
    } else if (arg === '--path' || arg === '--key') {
      const value = argv[++i]
      if (value === undefined) throw new Error(`${arg} needs a value`)
      opts[arg.slice(2)] = value
    } else if (numbers[arg]) {
      const value = Number(argv[++i])
      if (!Number.isFinite(value)) throw new Error(`${arg} needs a number`)
      opts[numbers[arg]] = value
    } else {
      throw new Error(`unknown argument ${arg}`)
    }
  }
  return opts
}

const out = ev => process.stdout.write(JSON.stringify(ev) + '\n')

const options = parseArgs(process.argv.slice(2))
const server = await new Promise(resolve => {
  const peer = PeerServer({ ...options, host: '127.0.0.1', port: 0 }, resolve)
  peer.on('error', err => out({ ev: 'error', message: String(err?.message || err) }))
  peer.on('connection', client => out({ ev: 'connection', id: client.getId() }))
  peer.on('disconnect', client => out({ ev: 'disconnect', id: client.getId() }))
})
out({ port: server.address().port, path: options.path ?? '/' })

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
