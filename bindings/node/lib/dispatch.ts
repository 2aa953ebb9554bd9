/**
 * Runs handlers for the requests core hands over, on the main thread.
 *
 * Core threads never wait for JavaScript: they push requests into a bounded queue, whose waker
 * queues one call of `drain` on the event loop when it goes from empty to non-empty; one drain
 * takes every waiting request, a batch (one buffer) per call, and sends the answers its handlers
 * gave synchronously in one call per batch (lib/batch.ts). What a handler returns or throws is
 * turned into the answer here; what the answer *means* (status checks, response validation,
 * problem bodies) is decided by core.
 */

import type * as native from '../native'
import { BODY_BINARY, BODY_EXACT, BODY_JSON, BODY_NOTHING, BODY_TEXT, Field } from '../native'
import { Answers, forEachRequest, type Incoming } from './batch'
import { Request } from './request'
import { HttpError, Reply } from './response'

/** Requests taken per call to the queue; more are taken in further calls of the same drain. */
const BATCH = 256

/**
 * A handler: what it returns (or its promise resolves to) becomes the answer. A code-first
 * route's handler takes a `Request` typed by the route's schemas.
 */
export type Handler<R = Request> = (request: R) => unknown

/** A handler bound to an operationId, with the status of its plain return values. */
export interface Operation {
  handler: Handler
  status: number
}

/** The handlers of one service, and the answers on their way back to it. */
export class Dispatcher {
  readonly #service: native.Service
  readonly #operationIds: readonly string[]
  readonly #operations: readonly Operation[]
  readonly #answers: Answers
  readonly #dispatch = (request: Incoming): void => this.#run(request)

  /** `operations` in the order their ids were given to the service as `handlers`. */
  constructor(service: native.Service, operations: Map<string, Operation>) {
    this.#service = service
    this.#operationIds = [...operations.keys()]
    this.#operations = [...operations.values()]
    this.#answers = new Answers(service, (request, error) => fail(request, error))
  }

  /** Takes and dispatches every waiting request. */
  drain(): void {
    // Once per wake-up: a core worker on this CPU then queues more before the first take (61
    // requests per take instead of 4 under load, docs/node.md).
    this.#service.yieldToCore()
    for (;;) {
      const batch = this.#service.take(BATCH)
      if (batch === null) return
      const more = forEachRequest(this.#service, this.#operationIds, batch, this.#dispatch)
      this.#answers.flush()
      if (!more) return
    }
  }

  #run(request: Incoming): void {
    // Core routes only to operations registered with a handler.
    const operation = this.#operations[request.operation]!
    let result: unknown
    try {
      result = operation.handler(new Request(request))
    } catch (error) {
      fail(request, error)
      return
    }
    if (isThenable(result)) {
      result.then(
        (value) => answer(this.#answers, request, operation.status, value),
        (error: unknown) => fail(request, error),
      )
    } else {
      answer(this.#answers, request, operation.status, result)
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}

/** Answers with what a handler returned. */
function answer(answers: Answers, request: Incoming, status: number, result: unknown): void {
  try {
    if (result instanceof Reply) {
      send(answers, request, result.status, result.body, flatten(result.headers))
    } else if (isFetchResponse(result)) {
      sendFetchResponse(answers, request, result)
    } else {
      send(answers, request, status, result, undefined)
    }
  } catch (error) {
    // A result that cannot be sent (not serializable, a refused header) is a handler failure.
    if (!request.answered) fail(request, error)
  }
}

/** Whether `value` is a standard fetch `Response` (what Hono and modern Node code return). */
function isFetchResponse(value: unknown): value is globalThis.Response {
  return typeof globalThis.Response === 'function' && value instanceof globalThis.Response
}

/** A fetch `Response`: its status, its headers (its own content type among them), its body as it
 * is. Reading the body is asynchronous, so the answer goes when it has been read. */
function sendFetchResponse(answers: Answers, request: Incoming, response: globalThis.Response): void {
  const headers: string[] = []
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers.push(name, value)
  })
  for (const cookie of response.headers.getSetCookie()) headers.push('set-cookie', cookie)
  response.arrayBuffer().then(
    (body) => {
      try {
        answers.add(request, response.status, BODY_EXACT, new Uint8Array(body), headers)
      } catch (error) {
        if (!request.answered) fail(request, error)
      }
    },
    (error: unknown) => fail(request, error),
  )
}

/**
 * Converts a plain value to the kind of body it is; core's answer rule decides what each kind
 * becomes (its content type unless a header names one, 204 for nothing with status 200).
 */
function send(answers: Answers, request: Incoming, status: number, body: unknown, headers: string[] | undefined): void {
  if (typeof body === 'string') {
    answers.add(request, status, BODY_TEXT, body, headers)
  } else if (body === undefined || body === null) {
    answers.add(request, status, BODY_NOTHING, null, headers)
  } else if (body instanceof Uint8Array) {
    answers.add(request, status, BODY_BINARY, body, headers)
  } else {
    const json = JSON.stringify(body)
    if (json === undefined) throw new TypeError(`the handler's result is not JSON-serializable: ${typeof body}`)
    // `{}` in the text may be a Map, a Set or an object JSON cannot see into, written as {} by
    // accident: look closer, only then (an honest empty object costs one more pass).
    if (json.includes('{}')) refuseAccidentalEmpty(body)
    answers.add(request, status, BODY_JSON, json, headers)
  }
}

/**
 * Throws, naming the type, when `body` holds a value `JSON.stringify` writes as `{}` although it
 * is not an empty object: a Map, a Set, or any other object whose class has no `toJSON` and
 * which has no enumerable property of its own. Sent, the client would get `{}` silently.
 */
function refuseAccidentalEmpty(body: unknown): void {
  JSON.stringify(body, function (key: string, value: unknown) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
    const prototype = Object.getPrototypeOf(value) as object | null
    if (prototype === Object.prototype || prototype === null) return value
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function' || Object.keys(value).length > 0) return value
    const type = (value as object).constructor?.name ?? 'object'
    const where = key === '' ? 'the handler returned' : `the handler's result holds at "${key}"`
    const hint = value instanceof Map ? ' (convert it: Object.fromEntries(map))' : value instanceof Set ? ' (convert it: [...set])' : ''
    throw new TypeError(`${where} a ${type}, which JSON would write as {}${hint}`)
  })
}

function flatten(headers: Record<string, string>): string[] {
  const list: string[] = []
  for (const name of Object.keys(headers)) list.push(name, String(headers[name]))
  return list
}

function fail(request: Incoming, error: unknown): void {
  const { service, slot, generation } = request
  request.answered = true
  if (error instanceof HttpError) {
    try {
      service.refuse(slot, generation, error.status, error.detail)
      return
    } catch (invalid) {
      error = invalid // a status outside 400-599: a handler failure
    }
  }
  if ((error as Error | null)?.name === 'AbortError') {
    // Aborted before answering: core answers 500 `no-response`.
    service.abandon(slot, generation)
    return
  }
  const requestId = request.text(Field.RequestId)
  console.error(`armature: handler of ${request.operationId} failed (request ${requestId}):`, error)
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  service.fail(slot, generation, message)
}
