import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { freePort, portListeners } from '../src/ports.ts'

test('freePort returns a loopback port nothing listens on, which a server can then take', async (t) => {
  const port = await freePort()
  assert.ok(port > 0 && port < 65536, `port ${port}`)
  assert.equal(portListeners(port).listening, false)
  const server = createServer()
  t.after(() => server.close())
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  assert.equal(portListeners(port).listening, true)
})
