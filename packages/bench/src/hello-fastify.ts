#!/usr/bin/env node
/**
 * The baseline of the redirect benchmark: Fastify's own hello-world, nothing else — no logger,
 * no plugins, no hooks. Whatever the shortener redirect costs on top of this is the price of its
 * features (Redis lookup, click spool, metrics, logging), which is what the ratio measures.
 *
 *   PORT=3100 HOST=127.0.0.1 node packages/bench/src/hello-fastify.ts
 *
 * Prints one line `listening on http://host:port` to stdout once it accepts connections (the
 * benchmark waits for it), and closes on SIGTERM/SIGINT.
 */
import Fastify from 'fastify'

const port = Number(process.env.PORT ?? 3100)
const host = process.env.HOST ?? '127.0.0.1'

const app = Fastify({ logger: false })
app.get('/', async () => ({ hello: 'world' }))

const address = await app.listen({ port, host })
process.stdout.write(`listening on ${address}\n`)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
}
