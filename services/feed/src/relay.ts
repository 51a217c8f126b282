/**
 * The outbox relay process: publishes committed outbox rows to POSTS_TOPIC (keyed by author) and
 * deletes them once Kafka acknowledged them — `@faultline/kit/outbox-relay-process` (one leader,
 * standbys, probes, graceful shutdown, the `feed_outbox_*` series).
 *   node services/feed/src/relay.ts      (pnpm --filter @faultline/feed relay)
 */
import { runMain } from '@faultline/kit/config'
import { runOutboxRelayProcess } from '@faultline/kit/outbox-relay-process'
import { loadConfig } from './config.ts'
import { runMigrations } from './migrate.ts'
import { createMitigationState } from './mitigations.ts'

if (import.meta.main) {
  await runMain(loadConfig, (config) =>
    runOutboxRelayProcess({
      system: 'feed',
      config,
      topic: config.postsTopic,
      partitions: config.postsTopicPartitions,
      migrate: (pool, log) => runMigrations({ pool, schema: config.dbSchema, log }),
      switches: { state: createMitigationState(config.mitigations), adminToken: config.adminToken },
    }),
  )
}
