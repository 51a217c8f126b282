/**
 * Decodes a Kafka message of POSTS_TOPIC into a PostEvent (types.ts). A message that is not one
 * (bad JSON, a missing or malformed field) gives `undefined`: the worker counts it and moves on,
 * since retrying a message that can never be applied would stop its partition for good.
 */
import { parseId } from '../ids.ts'
import type { PostEvent } from '../types.ts'

export function parsePostEvent(value: Buffer | null): PostEvent | undefined {
  if (value === null) return undefined
  let raw: unknown
  try {
    raw = JSON.parse(value.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof raw !== 'object' || raw === null) return undefined
  const o = raw as Record<string, unknown>
  const postId = typeof o.postId === 'string' ? parseId(o.postId) : undefined
  const authorId = typeof o.authorId === 'string' ? parseId(o.authorId) : undefined
  if (postId === undefined || authorId === undefined) return undefined
  const outboxId = typeof o.outboxId === 'string' ? o.outboxId : ''
  if (o.type === 'post_deleted') return { type: 'post_deleted', outboxId, postId, authorId }
  if (o.type === 'post_created' && typeof o.createdAtMs === 'number' && Number.isFinite(o.createdAtMs)) {
    return { type: 'post_created', outboxId, postId, authorId, createdAtMs: o.createdAtMs }
  }
  return undefined
}
