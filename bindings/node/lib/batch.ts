/**
 * The two byte layouts of the crossing (src/batch.rs defines them and exports their offsets):
 * a batch of requests arrives from core as one buffer per `take`, and the answers the handlers
 * gave synchronously go back as one buffer per drain. A request's attributes are decoded from
 * its record only when read, and never cross again.
 */

import * as native from '../native'
import { ABSENT, BATCH_HEADER, Field, FLAG_SAMPLED, RECORD_FIELDS } from '../native'

/** A u32 of the little-endian layout. */
function u32(buffer: Buffer, at: number): number {
  return buffer.readUInt32LE(at)
}

/** One request of a batch, by its record; and the way its answer goes back. */
export class Incoming {
  /** The operation's place in the service's handler list. */
  readonly operation: number
  readonly slot: number
  readonly generation: number
  /** Whether an answer was given (or queued in the answer batch). */
  answered = false

  constructor(
    readonly service: native.Service,
    /** The operationIds by their place in the service's handler list. */
    readonly operationIds: readonly string[],
    readonly batch: Buffer,
    readonly base: number,
  ) {
    this.slot = u32(batch, base + 4)
    this.generation = u32(batch, base + 8)
    this.operation = u32(batch, base + 12)
  }

  /** The operationId the request was routed to. */
  get operationId(): string {
    return this.operationIds[this.operation]!
  }

  /** The trace-flags byte. */
  get traceFlags(): number {
    return u32(this.batch, this.base + 16) & 0xff
  }

  /** Whether the trace is sampled. */
  get sampled(): boolean {
    return (u32(this.batch, this.base + 16) & FLAG_SAMPLED) !== 0
  }

  /** Where a field's bytes are: [start, end), or null when it is absent. */
  span(field: Field): [number, number] | null {
    const entry = this.base + RECORD_FIELDS + field * 8
    const length = u32(this.batch, entry + 4)
    if (length === ABSENT) return null
    const start = this.base + u32(this.batch, entry)
    return [start, start + length]
  }

  /** A field as text; null when absent. */
  text(field: Field): string | null {
    const span = this.span(field)
    return span === null ? null : this.batch.toString('utf8', span[0], span[1])
  }

  /** A field that is always there, as text. */
  string(field: Field): string {
    return this.text(field) ?? ''
  }

  /** A JSON field, parsed. */
  json(field: Field): Record<string, unknown> {
    const span = this.span(field)
    if (span === null || span[1] - span[0] === 2) return {}
    return JSON.parse(this.batch.toString('utf8', span[0], span[1])) as Record<string, unknown>
  }

  /** The body's bytes, a view into the batch (copy before handing it out). */
  body(): Buffer {
    const span = this.span(Field.Body)!
    return this.batch.subarray(span[0], span[1])
  }

  /** Every header as a flat list, name, value... */
  headerList(): string[] {
    const span = this.span(Field.Headers)!
    const list: string[] = []
    for (let at = span[0]; at < span[1]; ) {
      const length = u32(this.batch, at)
      list.push(this.batch.toString('utf8', at + 4, at + 4 + length))
      at += 4 + length
    }
    return list
  }
}

/** Calls `each` with every request of a batch that `take` returned; whether more were waiting. */
export function forEachRequest(
  service: native.Service,
  operationIds: readonly string[],
  batch: Buffer,
  each: (request: Incoming) => void,
): boolean {
  const count = u32(batch, 0)
  const more = u32(batch, 4) !== 0
  let at = BATCH_HEADER
  for (let i = 0; i < count; i++) {
    each(new Incoming(service, operationIds, batch, at))
    at += u32(batch, at)
  }
  return more
}

/** The largest UTF-8 size of a string: 3 bytes per UTF-16 code unit at most. */
function utf8Bound(text: string): number {
  return text.length * 3
}

/**
 * Answers waiting to cross, in the answer layout. Flushed once per drain for the synchronous
 * answers, and once per microtask checkpoint for the ones promises gave.
 */
export class Answers {
  #buffer = Buffer.allocUnsafeSlow(64 * 1024)
  #at = 0
  #requests: Incoming[] = []
  #scheduled = false

  constructor(
    readonly service: native.Service,
    /** Called for an answer core's answer rule refused; its request still waits. */
    readonly refused: (request: Incoming, error: Error) => void,
  ) {}

  #reserve(bytes: number): void {
    if (this.#at + bytes <= this.#buffer.length) return
    const grown = Buffer.allocUnsafeSlow(Math.max(this.#buffer.length * 2, this.#at + bytes))
    this.#buffer.copy(grown, 0, 0, this.#at)
    this.#buffer = grown
  }

  #number(value: number): void {
    this.#buffer.writeUInt32LE(value, this.#at)
    this.#at += 4
  }

  #text(value: string): void {
    this.#reserve(4 + utf8Bound(value))
    const written = this.#buffer.write(value, this.#at + 4, 'utf8')
    this.#number(written)
    this.#at += written
  }

  /**
   * Queues the answer of `request`: `kind` (a `BODY_*` constant) says what `body` is, `headers`
   * is a flat list (name, value...). Throws, queueing nothing, when a header is not a string.
   */
  add(request: Incoming, status: number, kind: number, body: string | Uint8Array | null, headers: string[] | undefined): void {
    const start = this.#at
    try {
      this.#reserve(20)
      this.#number(request.slot)
      this.#number(request.generation)
      // What napi's u32 conversion did before batching: ToUint32 (NaN 0, -1 4294967295); core
      // refuses what is not a status.
      this.#number(Number(status) >>> 0)
      this.#number(kind)
      const count = headers === undefined ? 0 : headers.length >> 1
      if (headers !== undefined && headers.length % 2 !== 0) throw new TypeError('headers must be name, value pairs')
      this.#number(count)
      for (let i = 0; i < count * 2; i++) {
        const text = headers![i]
        if (typeof text !== 'string') throw new TypeError(`header ${i % 2 === 0 ? 'name' : 'value'} ${String(text)} is not a string`)
        this.#text(text)
      }
      if (typeof body === 'string') {
        this.#text(body)
      } else if (body === null) {
        this.#reserve(4)
        this.#number(0)
      } else {
        this.#reserve(4 + body.byteLength)
        this.#number(body.byteLength)
        this.#buffer.set(body, this.#at)
        this.#at += body.byteLength
      }
    } catch (error) {
      this.#at = start
      throw error
    }
    request.answered = true
    this.#requests.push(request)
    if (!this.#scheduled) {
      // Answers that promises give in the same turn of the event loop cross together.
      this.#scheduled = true
      queueMicrotask(() => this.flush())
    }
  }

  /** Sends every queued answer in one call. */
  flush(): void {
    this.#scheduled = false
    if (this.#requests.length === 0) return
    const requests = this.#requests
    const length = this.#at
    this.#requests = []
    this.#at = 0
    const refused = this.service.respondBatch(this.#buffer, length)
    if (refused === null) return
    for (const { index, message } of refused) {
      const request = requests[index]!
      request.answered = false
      // The error the addon threw for it before answers were batched.
      this.refused(request, Object.assign(new Error(message), { code: 'ARMATURE_INVALID' }))
    }
  }
}
