/**
 * Typed toxic shapes. Toxiproxy's wire names (`latency`, `average_size` …) carry no units, so the
 * builders below take unit-suffixed options (`latencyMs`, `rateKBps` …) and produce the wire body;
 * a typo in an attribute is then a type error instead of a toxic that silently does nothing.
 *
 * Units follow Toxiproxy's README: every time is in milliseconds except the slicer's `delay`,
 * which is in microseconds; bandwidth is in KB/s; limit_data is in bytes.
 */

/** `downstream` is server → client (responses), `upstream` is client → server (requests). */
export type ToxicStream = 'upstream' | 'downstream'

export interface LatencyAttributes {
  /** Milliseconds added to every chunk of data. */
  latency: number
  /** Milliseconds of random variation (±). */
  jitter: number
}

export interface BandwidthAttributes {
  /** KB/s. */
  rate: number
}

export interface SlowCloseAttributes {
  /** Milliseconds the close is delayed. */
  delay: number
}

export interface TimeoutAttributes {
  /** Milliseconds before the connection is closed; 0 holds data until the toxic is removed. */
  timeout: number
}

export interface SlicerAttributes {
  /** Average packet size in bytes. */
  average_size: number
  /** Variation of the packet size in bytes (smaller than average_size). */
  size_variation: number
  /** Microseconds between packets. */
  delay: number
}

export interface LimitDataAttributes {
  /** Bytes let through before the connection is closed. */
  bytes: number
}

export interface ResetPeerAttributes {
  /** Milliseconds before the TCP RST; 0 resets at once. */
  timeout: number
}

export interface ToxicAttributesByType {
  latency: LatencyAttributes
  bandwidth: BandwidthAttributes
  slow_close: SlowCloseAttributes
  timeout: TimeoutAttributes
  slicer: SlicerAttributes
  limit_data: LimitDataAttributes
  reset_peer: ResetPeerAttributes
}

export type ToxicType = keyof ToxicAttributesByType

/** A toxic to add: type and attributes always agree (a discriminated union over `type`). */
export type ToxicSpec = {
  [K in ToxicType]: {
    type: K
    attributes: ToxicAttributesByType[K]
    /** Defaults to a unique `<type>_<stream>_<random>` so two helpers never collide. */
    name?: string
    /** Defaults to `downstream` (Toxiproxy's default). */
    stream?: ToxicStream
    /** Share of connections affected, 0..1. Defaults to 1. */
    toxicity?: number
  }
}[ToxicType]

/** A toxic as Toxiproxy reports it. */
export interface ToxicState<T extends ToxicType = ToxicType> {
  name: string
  type: T
  stream: ToxicStream
  toxicity: number
  attributes: ToxicAttributesByType[T]
}

/** Options shared by every builder. */
export interface ToxicOptions {
  name?: string
  stream?: ToxicStream
  toxicity?: number
}

function spec<K extends ToxicType>(type: K, attributes: ToxicAttributesByType[K], options: ToxicOptions) {
  return { type, attributes, ...options } as Extract<ToxicSpec, { type: K }>
}

/** Adds `latencyMs` (± `jitterMs`) to data in one direction. */
export function latency(options: { latencyMs: number; jitterMs?: number } & ToxicOptions) {
  const { latencyMs, jitterMs = 0, ...rest } = options
  return spec('latency', { latency: latencyMs, jitter: jitterMs }, rest)
}

/** Caps throughput at `rateKBps` kilobytes per second. */
export function bandwidth(options: { rateKBps: number } & ToxicOptions) {
  const { rateKBps, ...rest } = options
  return spec('bandwidth', { rate: rateKBps }, rest)
}

/** Delays the close of a connection by `delayMs`. */
export function slowClose(options: { delayMs: number } & ToxicOptions) {
  const { delayMs, ...rest } = options
  return spec('slow_close', { delay: delayMs }, rest)
}

/** Stops all data and closes the connection after `timeoutMs` (0: hold it open until removed). */
export function timeout(options: { timeoutMs: number } & ToxicOptions) {
  const { timeoutMs, ...rest } = options
  return spec('timeout', { timeout: timeoutMs }, rest)
}

/** Slices data into small packets, optionally `delayUs` microseconds apart. */
export function slicer(
  options: { averageSizeBytes: number; sizeVariationBytes?: number; delayUs?: number } & ToxicOptions,
) {
  const { averageSizeBytes, sizeVariationBytes = 0, delayUs = 0, ...rest } = options
  return spec(
    'slicer',
    { average_size: averageSizeBytes, size_variation: sizeVariationBytes, delay: delayUs },
    rest,
  )
}

/** Closes the connection once `bytes` have gone through. */
export function limitData(options: { bytes: number } & ToxicOptions) {
  const { bytes, ...rest } = options
  return spec('limit_data', { bytes }, rest)
}

/** Resets the connection (TCP RST) after `timeoutMs` (0: at once). */
export function resetPeer(options: { timeoutMs: number } & ToxicOptions) {
  const { timeoutMs, ...rest } = options
  return spec('reset_peer', { timeout: timeoutMs }, rest)
}
