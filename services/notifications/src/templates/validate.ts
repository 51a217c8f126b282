/**
 * Checks a template's `channels` before it is stored (PUT /api/templates/:name): known channels
 * only, each with its required parts as strings, every part a Liquid source that parses (filters
 * exist, no include/render/layout, within the size limit). Returns every problem at once, each
 * naming its field (`body.channels.email.html`), so the API answers one 400 that lists them.
 */
import { channels as allChannels, type Channel } from '../types.ts'
import { type EngineKind, maxTemplateSourceChars, parseSource } from './engine.ts'

export interface TemplateFieldError {
  field: string
  message: string
}

/** Per channel: its parts and whether each is required. */
const channelParts: Record<Channel, Record<string, boolean>> = {
  email: { subject: true, html: true, text: false },
  sms: { text: true },
  push: { title: true, body: true },
  webhook: { text: true },
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

function validatePart(kind: EngineKind, field: string, source: unknown): TemplateFieldError | null {
  if (typeof source !== 'string') return { field, message: 'must be a string (a Liquid template)' }
  if (source.length > maxTemplateSourceChars) {
    return { field, message: `must be at most ${maxTemplateSourceChars} characters` }
  }
  try {
    parseSource(kind, source)
    return null
  } catch (err) {
    return { field, message: `invalid Liquid: ${err instanceof Error ? err.message : String(err)}` }
  }
}

function validateChannel(channel: Channel, parts: unknown): TemplateFieldError[] {
  const base = `body.channels.${channel}`
  if (!isObject(parts)) return [{ field: base, message: 'must be an object' }]
  const errors: TemplateFieldError[] = []
  const known = channelParts[channel]
  for (const key of Object.keys(parts)) {
    if (!Object.hasOwn(known, key)) {
      errors.push({
        field: `${base}.${key}`,
        message: `unknown part (one of ${Object.keys(known).join(', ')})`,
      })
    }
  }
  for (const [part, required] of Object.entries(known)) {
    const field = `${base}.${part}`
    if (parts[part] === undefined) {
      if (required) errors.push({ field, message: 'is required' })
      continue
    }
    const kind: EngineKind = channel === 'email' && part === 'html' ? 'html' : 'plain'
    const problem = validatePart(kind, field, parts[part])
    if (problem) errors.push(problem)
  }
  return errors
}

/** Every problem of a template's `channels`; an empty list = valid. */
export function validateTemplate(channels: unknown): TemplateFieldError[] {
  if (!isObject(channels)) return [{ field: 'body.channels', message: 'must be an object of channels' }]
  const keys = Object.keys(channels)
  if (keys.length === 0) {
    return [{ field: 'body.channels', message: `must define at least one of ${allChannels.join(', ')}` }]
  }
  const errors: TemplateFieldError[] = []
  for (const key of keys) {
    if (!(allChannels as readonly string[]).includes(key)) {
      errors.push({
        field: `body.channels.${key}`,
        message: `unknown channel (one of ${allChannels.join(', ')})`,
      })
      continue
    }
    errors.push(...validateChannel(key as Channel, channels[key]))
  }
  return errors
}
