/**
 * The channel worker process's wiring (the worker entry point and the tests build it the same
 * way): the switches, the repositories, the provider client with its breakers, a sender per
 * channel, the dead-letter queue, the metrics and the BullMQ workers on the served channels.
 */
import type { Logger } from '@faultline/kit/logging'
import type { Metrics } from '@faultline/kit/metrics'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { Config } from '../config.ts'
import { createMitigationState, type MitigationState } from '../mitigations.ts'
import { type ChannelQueues, channelQueues } from '../queue/queues.ts'
import { DeliveryRepository } from '../repositories/deliveries.ts'
import { TemplateRepository } from '../repositories/templates.ts'
import type { Channel } from '../types.ts'
import { ChannelWorkers } from './channel-worker.ts'
import { DeadLetters } from './dead-letter.ts'
import { DeadLetterAlarm } from './dead-letter-alarm.ts'
import { createSenderMetrics, type SenderMetrics } from './metrics.ts'
import { type ChannelSender, type OutgoingDelivery, processDelivery } from './process-delivery.ts'
import { ProviderClient, type ProviderResult, type ProviderResultKind } from './provider-client.ts'
import { ClaimCoalescer, SentCoalescer } from './sent-coalescer.ts'
import { sendSmsWithFailover } from './sms-failover.ts'
import { webhookSender } from './webhook-sender.ts'

export interface ChannelWorkerClients {
  pool: pg.Pool
  /** A queue Redis client made for BullMQ (`maxRetriesPerRequest: null`). */
  queueRedis: Redis
  metrics: Metrics
  log: Logger
}

export interface ChannelWorkerTuning {
  lockDurationMs?: number
  stalledIntervalMs?: number
  maxStalledCount?: number
}

export interface ChannelWorker {
  mitigations: MitigationState
  queues: ChannelQueues
  deliveries: DeliveryRepository
  deadLetters: DeadLetters
  /** The dead-letter alert; started by the worker process (`alarm.start()`), stopped by close. */
  alarm: DeadLetterAlarm
  providers: ProviderClient
  metrics: SenderMetrics
  workers: ChannelWorkers
  /** Workers first (the jobs in progress finish), then the queues and the HTTP agent. */
  close(): Promise<void>
}

/** The sender of each channel: the provider by channel, SMS with failover, webhook to the recipient's URL. */
export function channelSenders(
  config: Config,
  providers: ProviderClient,
  onRequest?: (provider: string, result: ProviderResultKind) => void,
): Record<Channel, ChannelSender> {
  const p = config.providers
  const message = (d: OutgoingDelivery) => ({
    channel: d.channel,
    to: d.to,
    ...(d.rendered.subject === undefined ? {} : { subject: d.rendered.subject }),
    body: d.rendered.body,
  })
  return {
    email: (d) => providers.send({ name: 'email', baseUrl: p.email }, message(d), d.deliveryId),
    push: (d) => providers.send({ name: 'push', baseUrl: p.push }, message(d), d.deliveryId),
    sms: (d) =>
      sendSmsWithFailover(
        providers,
        { primary: { name: 'sms-a', baseUrl: p.sms }, fallback: { name: 'sms-b', baseUrl: p.smsFallback } },
        message(d),
        d.deliveryId,
      ),
    webhook: webhookSender(config, onRequest),
  }
}

export function createChannelWorker(
  config: Config,
  clients: ChannelWorkerClients,
  tuning: ChannelWorkerTuning = {},
): ChannelWorker {
  const mitigations = createMitigationState(config.mitigations)
  const queues = channelQueues(clients.queueRedis, config.queuePrefix)
  const deliveries = new DeliveryRepository(clients.pool)
  const deadLetters = new DeadLetters(queues.dead, deliveries)
  let metrics: SenderMetrics | undefined
  const providers = new ProviderClient({
    switches: mitigations,
    timeoutMs: config.providerTimeoutMs,
    naiveTimeoutMs: config.providerNaiveTimeoutMs,
    naiveRetries: config.providerNaiveRetries,
    breaker: config.breaker,
    onRequest: (provider, result) => metrics?.providerRequest(provider, result),
    onBreakerChange: (provider, open) => clients.log.warn({ provider, open }, 'provider breaker changed'),
  })
  const alarm = new DeadLetterAlarm({
    waiting: () => deadLetters.waiting(),
    alertWithinS: config.deadLetterAlertS,
    log: clients.log,
  })
  metrics = createSenderMetrics(clients.metrics, {
    deadLetters: alarm,
    breakers: () => providers.breakers(),
  })
  const senders = channelSenders(config, providers, (provider, result) =>
    metrics?.providerRequest(provider, result),
  )
  const deps = {
    deliveries,
    claims: new ClaimCoalescer(deliveries),
    sent: new SentCoalescer((records) => deliveries.markSentMany(records)),
    templates: new TemplateRepository(clients.pool),
    send: (d: OutgoingDelivery): Promise<ProviderResult> => senders[d.channel](d),
    deadLetters,
    switches: mitigations,
    metrics,
    deferral: { breakerOpenMs: config.breaker.openMs, minMs: config.jobBackoffMs },
  }
  const workers = new ChannelWorkers({
    connection: clients.queueRedis,
    prefix: config.queuePrefix,
    channels: config.workerChannels,
    concurrency: config.workerConcurrency,
    backoff: { baseMs: config.jobBackoffMs, capMs: config.jobBackoffMaxMs },
    process: (run) => processDelivery(deps, run),
    deadLetters,
    deliveries,
    switches: mitigations,
    metrics,
    log: clients.log,
    ...tuning,
  })
  return {
    mitigations,
    queues,
    deliveries,
    deadLetters,
    providers,
    metrics,
    workers,
    alarm,
    async close() {
      alarm.stop()
      await workers.close()
      await queues.close()
      await providers.close()
    },
  }
}
