/** One request as a handler sees it: read from core when asked for, then kept. */

import type * as native from '../native'

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

/** Parameters the contract declares, decoded and typed as its schemas say. */
export interface Params {
  /** Path parameters by name. */
  path: Record<string, unknown>
  /** Query parameters by name (absent optional ones missing, or their schema default). */
  query: Record<string, unknown>
  /** Header parameters by the name the contract gives. */
  header: Record<string, unknown>
  /** Cookie parameters by name. */
  cookie: Record<string, unknown>
}

/** A request that passed the whole pipeline: routing, identity, policy, validation. */
export class Request {
  readonly #native: native.Request
  #params: Params | undefined
  #headers: Record<string, string> | undefined
  #cookies: Record<string, string> | undefined
  #body: Buffer | undefined

  /** @internal Made by the dispatcher for each request. */
  constructor(request: native.Request) {
    this.#native = request
  }

  /** The HTTP method, upper case. */
  get method(): string {
    return this.#native.method
  }

  /** The path, still percent-encoded, without the query. */
  get path(): string {
    return this.#native.path
  }

  /** The raw query string without `?`, or null. */
  get queryString(): string | null {
    return this.#native.queryString
  }

  /** The operationId the request was routed to. */
  get operationId(): string {
    return this.#native.operationId
  }

  /** Path, query, header and cookie parameters, typed. */
  get params(): Params {
    if (this.#params === undefined) {
      const request = this.#native
      this.#params = {
        path: request.pathParams,
        query: request.query,
        header: request.headerParams,
        cookie: request.cookieParams,
      }
    }
    return this.#params
  }

  /** Every header by lower-case name; repeated headers joined with ", ". */
  get headers(): Record<string, string> {
    this.#headers ??= pairs(this.#native.headerList)
    return this.#headers
  }

  /** One header by name (any case); undefined when absent. */
  header(name: string): string | undefined {
    return this.#native.header(name) ?? undefined
  }

  /** Every cookie by name (the first of a name wins). */
  get cookies(): Record<string, string> {
    this.#cookies ??= pairs(this.#native.cookieList)
    return this.#cookies
  }

  /** The body as bytes. */
  get body(): Buffer {
    this.#body ??= this.#native.body
    return this.#body
  }

  /** The body as UTF-8 text; throws when it is not UTF-8. */
  get text(): string {
    return this.#native.text
  }

  /**
   * The body as JSON: what core parsed and validated against the contract when it declares a
   * JSON body; null without a body; throws when it is not JSON.
   */
  json<T = unknown>(): T {
    return this.#native.json() as T
  }

  /** The request id (the client's `x-request-id`, else a UUIDv7), echoed in the response. */
  get requestId(): string {
    return this.#native.requestId
  }

  /** The W3C trace id, 32 hex digits. */
  get traceId(): string {
    return this.#native.traceId
  }

  /** The id of this request's server span, 16 hex digits. */
  get spanId(): string {
    return this.#native.spanId
  }

  /** The `traceparent` header value for an outgoing call made while handling this request. */
  traceparent(): string {
    return this.#native.traceparent()
  }

  /** Who is calling. */
  get identity(): Identity {
    return this.#native.identity as unknown as Identity
  }

  /** The caller's subject; null when anonymous. */
  get subject(): string | null {
    return this.#native.subject
  }
}

function pairs(list: string[]): Record<string, string> {
  const record: Record<string, string> = {}
  for (let i = 0; i + 1 < list.length; i += 2) record[list[i]!] = list[i + 1]!
  return record
}
