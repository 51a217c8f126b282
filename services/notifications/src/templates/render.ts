/**
 * Renders one channel of a template with a notification's data, escaped for where it goes:
 * - email: `subject` plain (one line: a newline in a subject is header injection), `html` with
 *   every output HTML-escaped, `text` plain;
 * - sms: `body` plain, at most 1600 characters (ten concatenated segments) — longer is an error,
 *   not a silent cut, because a cut code or link is worse than no message;
 * - push: `title` plain (one line), `body` plain;
 * - webhook: `text` plain (it travels inside JSON, which the client encodes).
 * "Plain" = no escaping (an SMS that shows `&lt;` is a bug) but control characters removed, so
 * data cannot smuggle terminal escapes, NULs or extra header lines to a provider.
 * Every result also carries `body` (and `subject` where there is one): what goes into the
 * providers' `{subject?, body}` (email: the html).
 * Errors are `RenderError`s: the API turns a missing variable into 422 `body.data.<variable>`,
 * the channel worker treats any of them as poison (rendering again cannot succeed).
 */
import { LiquidError, ParseError as LiquidParseError, TokenizationError } from 'liquidjs'
import type { TemplateChannels } from '../repositories/templates.ts'
import type { Channel } from '../types.ts'
import { type EngineKind, renderSource, UnprintableValueError } from './engine.ts'

/** Longest SMS body (characters, i.e. code points). */
export const smsMaxChars = 1600

export type RenderErrorReason =
  | 'missing_variable'
  | 'unprintable_variable'
  | 'channel_not_in_template'
  | 'missing_part'
  | 'invalid_template'
  | 'too_long'
  | 'render_failed'

export class RenderError extends Error {
  readonly reason: RenderErrorReason
  readonly channel: Channel
  /** The part of the channel (`subject`, `html`, `text`, `title`, `body`). */
  readonly part: string | undefined
  /** Set for `missing_variable` (and `unprintable_variable` when the output is a plain variable): the variable as the template names it (`user.name`). */
  readonly variable: string | undefined

  constructor(
    reason: RenderErrorReason,
    message: string,
    o: { channel: Channel; part?: string; variable?: string; cause?: unknown },
  ) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause })
    this.name = 'RenderError'
    this.reason = reason
    this.channel = o.channel
    this.part = o.part
    this.variable = o.variable
  }

  /** The request field to blame in a 4xx (the API's `field`). */
  get field(): string {
    if ((this.reason === 'missing_variable' || this.reason === 'unprintable_variable') && this.variable) {
      return `body.data.${this.variable}`
    }
    if (this.reason === 'channel_not_in_template') return 'body.channels'
    if (this.reason === 'invalid_template' || this.reason === 'missing_part') return 'body.template'
    return 'body.data'
  }
}

export type RenderedMessage =
  | { channel: 'email'; subject: string; html: string; text?: string; body: string }
  | { channel: 'sms'; body: string; subject?: undefined }
  | { channel: 'push'; title: string; body: string; subject: string }
  | { channel: 'webhook'; text: string; body: string; subject?: undefined }

// Every C0/C1 control character and DEL (`\p{Cc}`); the multi-line variant keeps \n and \t.
const controlChars = /\p{Cc}/gu
const controlCharsButNewlineTab = /[^\P{Cc}\n\t]/gu

/** One line of plain text: line breaks become spaces, other control characters go. */
export function plainLine(s: string): string {
  return s
    .replace(/\r\n|[\r\n\t]/g, ' ')
    .replace(controlChars, '')
    .trim()
}

/** Plain text: line breaks normalised to \n, every other control character but \t removed. */
export function plainText(s: string): string {
  return s.replace(/\r\n?/g, '\n').replace(controlCharsButNewlineTab, '')
}

/** A liquidjs error and the errors it wraps (a filter's throw is its `originalError`), outermost first. */
function* errorChain(err: unknown): Generator<unknown> {
  let e: unknown = err
  for (let depth = 0; e && depth < 5; depth++) {
    yield e
    e = (e as { originalError?: unknown }).originalError
  }
}

/** The variable a strict render found undefined (liquidjs' UndefinedVariableError, maybe wrapped). */
function undefinedVariableOf(err: unknown): string | undefined {
  for (const e of errorChain(err)) {
    const name = (e as { variableName?: unknown }).variableName
    if (typeof name === 'string') return name
  }
  return undefined
}

/** The error of `type` behind a liquidjs error. */
function originalOf<T>(err: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  for (const e of errorChain(err)) if (e instanceof type) return e
  return undefined
}

/** `{{ user.name | upcase }}` → `user.name`; undefined when the output is not a plain variable. */
function outputVariableOf(err: unknown): string | undefined {
  const text = (err as { token?: { getText?: () => string } }).token?.getText?.()
  const match = text?.match(/^\{\{-?\s*([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*)\s*(?:\||-?\}\})/)
  return match?.[1]
}

function toRenderError(err: unknown, channel: Channel, part: string): RenderError {
  const unprintable = originalOf(err, UnprintableValueError)
  if (unprintable) {
    const variable = outputVariableOf(err)
    const what = variable === undefined ? 'an output' : `data.${variable}`
    return new RenderError('unprintable_variable', `${what} ${unprintable.message} (${channel}.${part})`, {
      channel,
      part,
      ...(variable === undefined ? {} : { variable }),
      cause: err,
    })
  }
  const variable = undefinedVariableOf(err)
  if (variable !== undefined) {
    return new RenderError('missing_variable', `data has no "${variable}" (${channel}.${part})`, {
      channel,
      part,
      variable,
      cause: err,
    })
  }
  const message = err instanceof Error ? err.message : String(err)
  const parseFailed = err instanceof TokenizationError || err instanceof LiquidParseError
  if (parseFailed) {
    return new RenderError('invalid_template', `${channel}.${part}: ${message}`, {
      channel,
      part,
      cause: err,
    })
  }
  const what = err instanceof LiquidError ? message : `unexpected: ${message}`
  return new RenderError('render_failed', `${channel}.${part}: ${what}`, { channel, part, cause: err })
}

function renderPart(
  kind: EngineKind,
  channel: Channel,
  part: string,
  source: unknown,
  data: Record<string, unknown>,
): string {
  if (typeof source !== 'string') {
    throw new RenderError('missing_part', `the template's ${channel} channel has no ${part}`, {
      channel,
      part,
    })
  }
  try {
    return renderSource(kind, source, data)
  } catch (err) {
    throw toRenderError(err, channel, part)
  }
}

/**
 * Renders `channel` of a template. Throws RenderError: `channel_not_in_template`,
 * `missing_variable` (with `variable`), `unprintable_variable` (a null or an object printed), `too_long` (SMS), `invalid_template`, `missing_part`,
 * `render_failed` (a render or memory limit, a filter on the wrong type).
 */
export function renderChannel(
  channels: TemplateChannels,
  channel: Channel,
  data: Record<string, unknown>,
): RenderedMessage {
  const parts = channels[channel] as Record<string, unknown> | undefined
  if (!parts || typeof parts !== 'object') {
    throw new RenderError('channel_not_in_template', `the template has no ${channel} channel`, { channel })
  }
  const plain = (part: string) => plainText(renderPart('plain', channel, part, parts[part], data))
  const line = (part: string) => plainLine(renderPart('plain', channel, part, parts[part], data))
  switch (channel) {
    case 'email': {
      const subject = line('subject')
      const html = plainText(renderPart('html', channel, 'html', parts.html, data))
      const text = parts.text === undefined ? undefined : plain('text')
      return { channel, subject, html, ...(text === undefined ? {} : { text }), body: html }
    }
    case 'sms': {
      const body = plain('text')
      const length = [...body].length
      if (length > smsMaxChars) {
        throw new RenderError('too_long', `the SMS is ${length} characters, more than ${smsMaxChars}`, {
          channel,
          part: 'text',
        })
      }
      return { channel, body }
    }
    case 'push': {
      const title = line('title')
      return { channel, title, body: plain('body'), subject: title }
    }
    case 'webhook': {
      const text = plain('text')
      return { channel, text, body: text }
    }
  }
}
