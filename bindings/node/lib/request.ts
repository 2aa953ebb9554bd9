/// <reference types="node" />
// The reference keeps `Buffer` resolvable in the emitted declarations for a consumer whose
// TypeScript (6 and later) no longer includes @types packages it was not asked for.

/**
 * One request as a handler sees it: decoded from its record of the batch it came in (lib/batch.ts)
 * when asked for. Identity, cookies and outgoing calls cross into core when asked for, which they
 * can until the request is answered.
 */

import type * as native from '../native'
import { Field } from '../native'
import type { Incoming } from './batch'
import { translate } from './errors'

/** Who is calling, as policies see it. */
export interface Identity {
  /** `anonymous`, `jwt`, `api_key` or `mtls`. */
  kind: string
  /** The `sub` claim, API key name or SPIFFE id; null when anonymous. */
  subject: string | null
  /** The token's claims (empty for other kinds). */
  claims: Record<string, unknown>
  /** Scopes granted. */
  scopes: string[]
}

/**
 * Parameters the contract declares, decoded and typed as its schemas say. For a code-first route
 * (`app.get(path, { params, query }, handler)`) `P` and `Q` are the types its schemas give.
 */
export interface Params<P = Record<string, unknown>, Q = Record<string, unknown>> {
  /** Path parameters by name. */
  path: P
  /** Query parameters by name (absent optional ones missing, or their schema default). */
  query: Q
  /** Header parameters by the name the contract gives. */
  header: Record<string, unknown>
  /** Cookie parameters by name. */
  cookie: Record<string, unknown>
}

/**
 * A request that passed the whole pipeline: routing, identity, policy, validation. A code-first
 * route's handler gets its path (`P`) and query (`Q`) parameters and its JSON body (`B`) typed
 * from the route's schemas; a contract-first operation's are `unknown` values by name.
 */
export class Request<P = Record<string, unknown>, Q = Record<string, unknown>, B = unknown> {
  readonly #incoming: Incoming
  #params: Params<P, Q> | undefined
  #headers: Record<string, string> | undefined
  #cookies: Record<string, string> | undefined
  #body: Buffer | undefined

  /** @internal Made by the dispatcher for each request. */
  constructor(incoming: Incoming) {
    this.#incoming = incoming
  }

  /** The HTTP method, upper case. */
  get method(): string {
    return this.#incoming.string(Field.Method)
  }

  /** The path, still percent-encoded, without the query. */
  get path(): string {
    return this.#incoming.string(Field.Path)
  }

  /** The raw query string without `?`, or null. */
  get queryString(): string | null {
    return this.#incoming.text(Field.Query)
  }

  /** The operationId the request was routed to. */
  get operationId(): string {
    return this.#incoming.operationId
  }

  /** Path, query, header and cookie parameters, typed. */
  get params(): Params<P, Q> {
    if (this.#params === undefined) {
      const incoming = this.#incoming
      // Core decoded and validated them against the same schemas the types come from.
      this.#params = {
        path: incoming.json(Field.PathParams) as P,
        query: incoming.json(Field.QueryParams) as Q,
        header: incoming.json(Field.HeaderParams),
        cookie: incoming.json(Field.CookieParams),
      }
    }
    return this.#params
  }

  /** Every header by lower-case name; repeated headers joined with ", ". */
  get headers(): Record<string, string> {
    this.#headers ??= pairs(this.#incoming.headerList())
    return this.#headers
  }

  /** One header by name (any case); undefined when absent. */
  header(name: string): string | undefined {
    const headers = this.headers
    const key = name.toLowerCase()
    return Object.hasOwn(headers, key) ? headers[key] : undefined
  }

  /** Every cookie by name (the first of a name wins). */
  get cookies(): Record<string, string> {
    this.#cookies ??= pairs(this.#native((service, slot, generation) => service.requestCookieList(slot, generation)))
    return this.#cookies
  }

  /** The body as bytes. */
  get body(): Buffer {
    this.#body ??= Buffer.from(this.#incoming.body())
    return this.#body
  }

  /** The body as UTF-8 text; throws when it is not UTF-8. */
  get text(): string {
    try {
      return UTF8.decode(this.#incoming.body())
    } catch (error) {
      throw invalid(`body is not UTF-8: ${(error as Error).message}`)
    }
  }

  /**
   * The body as JSON: what core validated against the contract when it declares a JSON body;
   * null without a body; throws when it is not JSON.
   */
  json<T = B>(): T {
    const body = this.#incoming.body()
    if (body.length === 0) return null as T
    try {
      return JSON.parse(UTF8.decode(body)) as T
    } catch (error) {
      throw invalid(`body is not JSON: ${(error as Error).message}`)
    }
  }

  /** The request id (the client's `x-request-id`, else a UUIDv7), echoed in the response. */
  get requestId(): string {
    return this.#incoming.string(Field.RequestId)
  }

  /** The W3C trace id, 32 hex digits. */
  get traceId(): string {
    return this.#incoming.string(Field.TraceId)
  }

  /** The id of this request's server span, 16 hex digits. */
  get spanId(): string {
    return this.#incoming.string(Field.SpanId)
  }

  /** The caller's span id, when a valid `traceparent` came in; null otherwise. */
  get parentSpanId(): string | null {
    return this.#incoming.text(Field.ParentSpanId)
  }

  /** The trace-flags byte: bit 0 sampled, bit 1 random trace id. */
  get traceFlags(): number {
    return this.#incoming.traceFlags
  }

  /** Whether the trace is sampled (this request's span is recorded when tracing is on). */
  get sampled(): boolean {
    return this.#incoming.sampled
  }

  /** The validated, normalized `tracestate` of the request; null when it had none. */
  get tracestate(): string | null {
    return this.#incoming.text(Field.Tracestate)
  }

  /**
   * The `traceparent` to send on an outgoing call: this trace, and a new span id for each call
   * (its own child of this request's span). The headers to send are `outgoingHeaders()`.
   */
  traceparent(): string {
    return this.#native((service, slot, generation) => service.requestTraceparent(slot, generation))
  }

  /**
   * The headers to send on an outgoing call made while handling this request: `traceparent` with
   * a new span id (each call its own child of this request's span) and, when the request had one,
   * `tracestate`. No span is exported for the call; `clientSpan` does that.
   *
   * ```ts
   * const stock = await fetch(url, { headers: req.outgoingHeaders() })
   * ```
   */
  outgoingHeaders(): Record<string, string> {
    return this.#native((service, slot, generation) => service.requestOutgoingHeaders(slot, generation))
  }

  /**
   * Begins an outgoing call exported as a client span when this request's span is recorded (the
   * same span docs/telemetry.md describes for every language): send `span.headers` on the call,
   * then `span.end(status)`, or `span.end(undefined, 'timeout')` when it failed.
   */
  clientSpan(name: string, options: { method?: string; url?: string } = {}): ClientSpan {
    return this.#native((service, slot, generation) =>
      service.requestClientSpan(slot, generation, name, options.method, options.url),
    )
  }

  /** Who is calling. */
  get identity(): Identity {
    return this.#native((service, slot, generation) => service.requestIdentity(slot, generation)) as unknown as Identity
  }

  /** The caller's subject; null when anonymous. */
  get subject(): string | null {
    return this.#incoming.text(Field.Subject)
  }

  /** A call into core about this request, by its ticket (the errors translated). */
  #native<T>(call: (service: native.Service, slot: number, generation: number) => T): T {
    const incoming = this.#incoming
    try {
      return call(incoming.service, incoming.slot, incoming.generation)
    } catch (error) {
      throw translate(error)
    }
  }
}

/** Strict, and keeping a byte-order mark as the text's first character (as core reads it). */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** An error as the addon throws for a value it cannot convert. */
function invalid(message: string): Error {
  return Object.assign(new Error(message), { code: 'ARMATURE_INVALID' })
}

/** One outgoing call, exported as a client span when it ends (see `Request.clientSpan`). */
export type ClientSpan = native.ClientSpan

function pairs(list: string[]): Record<string, string> {
  const record: Record<string, string> = {}
  for (let i = 0; i + 1 < list.length; i += 2) record[list[i]!] = list[i + 1]!
  return record
}
