/**
 * Processing jobs during an S3 outage (pm08's worker side), on real S3 behind its Toxiproxy
 * proxy, taken away after the upload was acknowledged. With s3Breaker on, a job that finds S3
 * unavailable goes back to the delayed set without spending an attempt (LaneWorkers' deferFor)
 * and is processed once S3 returns; off, it spends its JOB_ATTEMPTS on the outage and the
 * acknowledged photo ends dead-lettered although its original is safe in S3.
 * Changes the shared proxy: run under the infra lock.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { proxies } from '@faultline/infra'
import { ToxiproxyClient } from '@faultline/toxiproxy'
import sharp from 'sharp'
import { jobIdOf } from '../src/queue/lanes.ts'
import { type PhotosHarness, photosHarness, settled, upload } from './helpers.ts'

// Two attempts 10 ms apart: without deferral an outage of a second spends them all.
const fastRetries = { JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '10' }

async function s3Proxy(h: PhotosHarness) {
  const toxiproxy = new ToxiproxyClient({ url: h.infra.urls.toxiproxyUrl })
  const listenPort = (await toxiproxy.proxy(proxies.s3.name)).listen.split(':').at(-1)
  assert.ok(h.infra.urls.s3Endpoint.endsWith(`:${listenPort}`), 'the test reaches S3 through its proxy')
  return {
    down: () => toxiproxy.disableProxy(proxies.s3.name),
    up: () => toxiproxy.enableProxy(proxies.s3.name),
  }
}

async function acknowledgedPhoto(baseUrl: string, owner: string): Promise<string> {
  const bytes = await sharp({ create: { width: 48, height: 32, channels: 3, background: '#2a6' } })
    .jpeg()
    .toBuffer()
  const created = await upload(baseUrl, owner, bytes)
  assert.equal(created.status, 201)
  return created.body.id
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('s3Breaker on: a job that meets the outage waits without spending an attempt, and is processed after it', async (t) => {
  const h = await photosHarness(t, { need: ['toxiproxy'] })
  const { baseUrl } = await h.startApi({ env: fastRetries })
  const id = await acknowledgedPhoto(baseUrl, 'olga')
  const s3 = await s3Proxy(h)
  await s3.down()
  try {
    const worker = await h.startWorker({ env: fastRetries })
    const queue = worker.queues.queue('new')
    // Started three times (more than its two attempts) and still not failed.
    await until('the job tried three times during the outage', async () => {
      const job = await queue.getJob(jobIdOf('new', id))
      return (job?.attemptsStarted ?? 0) >= 3
    })
    const job = await queue.getJob(jobIdOf('new', id))
    assert.equal(job?.attemptsMade, 0, 'no attempt was spent on the outage')
    assert.notEqual(await job?.getState(), 'failed')
    assert.equal(await worker.queues.dead.count(), 0)
  } finally {
    await s3.up()
  }
  assert.equal((await settled(baseUrl, 'olga', id)).status, 'ready')
})

test('s3Breaker off: the same job spends its attempts on the outage and is dead-lettered', async (t) => {
  const h = await photosHarness(t, { need: ['toxiproxy'] })
  const { baseUrl } = await h.startApi({ env: fastRetries })
  const id = await acknowledgedPhoto(baseUrl, 'petr')
  const s3 = await s3Proxy(h)
  await s3.down()
  let end: Awaited<ReturnType<typeof settled>>
  try {
    await h.startWorker({ env: fastRetries, mitigations: { s3Breaker: false } })
    end = await settled(baseUrl, 'petr', id)
  } finally {
    await s3.up()
  }
  assert.equal(end.status, 'failed', 'an acknowledged photo lost to the outage')
  assert.match(end.reason ?? '', /^processing failed 2 times: /)
  assert.equal((await h.objects('incoming/petr/')).length, 1, 'although its original is in S3')
})
