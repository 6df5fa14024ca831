// The official PeerJS server (npm `peer` 1.0.2 from tests/js/node_modules, unmodified, through
// its `PeerServer`) for the PeerJS benchmark (bench/peerjs). Listens on 127.0.0.1:$PORT (0 = any)
// at path $PEER_PATH (default /peerjs, so the WebSocket is at /peerjs/peerjs like ours), with the
// concurrent limit raised to $CONCURRENT_LIMIT (default 1000000) and the alive timeout to
// $ALIVE_TIMEOUT ms (default 600000) so neither caps a load test; expire timeout 5000 ms and the
// sweep interval are the package defaults. Prints one JSON line {"port": N} when listening and
// nothing per connection. Runs until stdin closes or it gets SIGINT/SIGTERM.
import { createRequire } from 'node:module'

const require = createRequire(new URL('../../tests/js/package.json', import.meta.url))
const { PeerServer } = require('peer')

const options = {
  host: '127.0.0.1',
  port: Number(process.env.PORT || 0),
  path: process.env.PEER_PATH || '/peerjs',
  concurrent_limit: Number(process.env.CONCURRENT_LIMIT || 1000000),
  alive_timeout: Number(process.env.ALIVE_TIMEOUT || 600000)
}

let errors = 0
const server = await new Promise(resolve => {
  const peer = PeerServer(options, resolve)
  // Without a listener an `error` event (e.g. a bad frame) would crash the process.
  peer.on('error', err => {
    if (errors++ < 10) process.stderr.write(`peer error: ${err?.message || err}\n`)
  })
})
process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n')

const stop = () => process.exit(0)
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
