/**
 * Client factories for Postgres, Redis and Kafka, each also as a fastify-plugin that decorates
 * the instance and frees the client in `onClose`. Who creates a client closes it: one made in
 * `server.ts` is closed by a shutdown closer, one made by a plugin by that plugin.
 */
export * from './clients/kafka.ts'
export * from './clients/kafka-group.ts'
export * from './clients/postgres.ts'
export * from './clients/redis.ts'
