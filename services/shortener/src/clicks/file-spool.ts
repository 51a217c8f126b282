import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { type ClickEvent, ClickSpool, type Spool } from './spool.ts'

export interface FileSpoolOptions {
  /** One directory per instance (`CLICK_SPOOL_DIR/<INSTANCE_ID>`): two processes must never share one. */
  dir: string
  capacity: number
  /** Events per segment file; a segment is deleted once all of it was published. */
  segmentEvents?: number
}

interface Segment {
  seq: number
  /** Events appended to it. */
  written: number
  /** Events of it already published. */
  consumed: number
}

const segmentName = (seq: number) => `segment-${String(seq).padStart(10, '0')}.jsonl`
const segmentPattern = /^segment-(\d{10})\.jsonl$/
const cursorFile = 'cursor.json'

/**
 * The durable spool: every event is appended to a segment file (one `write` per event, before
 * the redirect is answered) and also kept in memory for publishing; a cursor file records how
 * far publishing got. After a crash — `kill -9` included, since written data is in the kernel's
 * page cache — the next process on the same directory reloads every event not yet published.
 * A power loss can still lose what the disk had not flushed (no fsync per event: too slow for a
 * redirect), and a published-but-not-yet-recorded batch is published again after a crash,
 * which the worker's watermarks absorb (batch.ts).
 */
export class FileClickSpool implements Spool {
  readonly durable = true
  readonly capacity: number
  readonly #dir: string
  readonly #segmentEvents: number
  readonly #memory: ClickSpool
  readonly #segments: Segment[] = []
  #fd: number
  /** Events recovered from disk when the spool was opened (published first). */
  readonly recovered: number
  /** Lines that did not parse at load: a write cut short by a crash (always a segment's last line). */
  readonly corruptLines: number

  constructor(options: FileSpoolOptions) {
    this.capacity = options.capacity
    this.#dir = options.dir
    this.#segmentEvents = options.segmentEvents ?? 10_000
    mkdirSync(this.#dir, { recursive: true })
    const { events, corrupt } = this.#load()
    // Everything recovered is kept, even past a capacity lowered since: new events are refused
    // until the backlog drains below it.
    this.#memory = new ClickSpool(Math.max(options.capacity, events.length))
    for (const event of events) this.#memory.push(event)
    this.recovered = events.length
    this.corruptLines = corrupt
    const last = this.#segments.at(-1)
    const seq = (last?.seq ?? 0) + 1
    this.#segments.push({ seq, written: 0, consumed: 0 })
    this.#fd = openSync(join(this.#dir, segmentName(seq)), 'a')
  }

  get size(): number {
    return this.#memory.size
  }

  push(event: ClickEvent): boolean {
    if (this.#memory.size >= this.capacity) return false
    let current = this.#segments.at(-1) as Segment
    if (current.written >= this.#segmentEvents) current = this.#rotate()
    writeSync(this.#fd, `${JSON.stringify(event)}\n`)
    current.written++
    this.#memory.push(event)
    return true
  }

  peek(max: number): ClickEvent[] {
    return this.#memory.peek(max)
  }

  remove(n: number): void {
    let left = Math.min(n, this.#memory.size)
    this.#memory.remove(left)
    while (left > 0) {
      const head = this.#segments[0] as Segment
      const take = Math.min(left, head.written - head.consumed)
      head.consumed += take
      left -= take
      if (head.consumed >= head.written && this.#segments.length > 1) {
        rmSync(join(this.#dir, segmentName(head.seq)), { force: true })
        this.#segments.shift()
      } else if (take === 0) {
        break
      }
    }
    this.#saveCursor()
  }

  close(): void {
    closeSync(this.#fd)
  }

  #rotate(): Segment {
    closeSync(this.#fd)
    const seq = (this.#segments.at(-1) as Segment).seq + 1
    const segment = { seq, written: 0, consumed: 0 }
    this.#segments.push(segment)
    this.#fd = openSync(join(this.#dir, segmentName(seq)), 'a')
    return segment
  }

  #saveCursor(): void {
    const head = this.#segments[0] as Segment
    const tmp = join(this.#dir, `${cursorFile}.tmp`)
    // Write then rename: a crash leaves the old cursor or the new one, never half of one.
    writeFileSync(tmp, JSON.stringify({ seq: head.seq, consumed: head.consumed }))
    renameSync(tmp, join(this.#dir, cursorFile))
  }

  /** Reads the unpublished events of every segment, oldest first, and rebuilds the segment list. */
  #load(): { events: ClickEvent[]; corrupt: number } {
    let cursor = { seq: 0, consumed: 0 }
    try {
      cursor = JSON.parse(readFileSync(join(this.#dir, cursorFile), 'utf8'))
    } catch {
      // No cursor yet: nothing was published from this directory.
    }
    const seqs = readdirSync(this.#dir)
      .map((name) => segmentPattern.exec(name)?.[1])
      .filter((seq): seq is string => seq !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
    const events: ClickEvent[] = []
    let corrupt = 0
    for (const seq of seqs) {
      const file = join(this.#dir, segmentName(seq))
      const skip = seq === cursor.seq ? cursor.consumed : 0
      let valid = 0
      if (seq >= cursor.seq) {
        for (const line of readFileSync(file, 'utf8').split('\n')) {
          if (line === '') continue
          try {
            const event = JSON.parse(line) as ClickEvent
            valid++
            if (valid > skip) events.push(event)
          } catch {
            corrupt++
          }
        }
      }
      if (valid <= skip) {
        // Fully published (or before the cursor): nothing to keep.
        rmSync(file, { force: true })
        continue
      }
      // Never appended to again: new events go to a new segment, after any torn last line.
      this.#segments.push({ seq, written: valid, consumed: skip })
    }
    return { events, corrupt }
  }
}
