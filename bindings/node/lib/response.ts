/** What a handler can return or throw besides a plain value. */

/** Headers of a response: name to value (any case). */
export type Headers = Record<string, string>

/**
 * An answer with its own status and headers. The body is sent as a plain return value would
 * be: an object or array as JSON, a string as text, a Buffer or Uint8Array as bytes, null or
 * undefined as no body. A `content-type` among `headers` wins.
 *
 * ```ts
 * return new Reply(201, { id: 1 }, { location: '/users/1' })
 * ```
 *
 * Named `Reply`, not `Response`: the standard fetch `Response` (`new Response(body, init)`) is a
 * global of its own, which a handler may return too.
 */
export class Reply {
  constructor(
    /** The status, 200-599. */
    readonly status: number = 200,
    /** The body. */
    readonly body: unknown = undefined,
    /** Extra headers; framing headers (content-length, transfer-encoding...) are refused. */
    readonly headers: Headers = {},
  ) {}
}

/**
 * Thrown by a handler to refuse a request on purpose: core answers the `refused` problem with
 * this status (400-599) and `detail`, which the client sees.
 *
 * ```ts
 * throw new HttpError(409, 'this name is taken')
 * ```
 */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    /** The status, 400-599. */
    readonly status: number,
    /** What the client is told. */
    readonly detail: string,
  ) {
    super(`${status}: ${detail}`)
  }
}
