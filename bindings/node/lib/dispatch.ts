/**
 * Runs handlers for the requests core hands over, on the main thread.
 *
 * Core threads never wait for JavaScript: they push requests into a bounded queue, whose waker
 * queues one call of `drain` on the event loop when it goes from empty to non-empty; one drain
 * takes every waiting request. What a handler returns or throws is turned into the answer here;
 * what the answer *means* (status checks, response validation, problem bodies) is decided by
 * core.
 */

import type * as native from '../native'
import { BODY_BINARY, BODY_JSON, BODY_NOTHING, BODY_TEXT } from '../native'
import { Request } from './request'
import { HttpError, Response } from './response'

/** Requests taken per call to the queue; more are taken in further calls of the same drain. */
const BATCH = 256

/** A handler: what it returns (or its promise resolves to) becomes the answer. */
export type Handler = (request: Request) => unknown

/** A handler bound to an operationId, with the status of its plain return values. */
export interface Operation {
  handler: Handler
  status: number
}

/** Takes and dispatches every waiting request of `service`. */
export function drain(service: native.Service, operations: Map<string, Operation>): void {
  // Once per wake-up: a core worker on this CPU then queues more before the first take (61
  // requests per take instead of 4 under load, docs/node.md).
  service.yieldToCore()
  for (;;) {
    const batch = service.take(BATCH)
    for (const request of batch) dispatch(request, operations)
    if (batch.length < BATCH) return
  }
}

function dispatch(request: native.Request, operations: Map<string, Operation>): void {
  // Core routes only to operations registered with a handler.
  const operation = operations.get(request.operationId)!
  let result: unknown
  try {
    result = operation.handler(new Request(request))
  } catch (error) {
    fail(request, error)
    return
  }
  if (isThenable(result)) {
    result.then(
      (value) => answer(request, operation.status, value),
      (error: unknown) => fail(request, error),
    )
  } else {
    answer(request, operation.status, result)
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}

/** Answers with what a handler returned. */
function answer(request: native.Request, status: number, result: unknown): void {
  try {
    if (result instanceof Response) {
      send(request, result.status, result.body, flatten(result.headers))
    } else {
      send(request, status, result, undefined)
    }
  } catch (error) {
    // A result that cannot be sent (not serializable, a refused header) is a handler failure.
    if (!request.answered) fail(request, error)
  }
}

/**
 * Converts a plain value to the kind of body it is; core's answer rule decides what each kind
 * becomes (its content type unless a header names one, 204 for nothing with status 200).
 */
function send(request: native.Request, status: number, body: unknown, headers: string[] | undefined): void {
  if (typeof body === 'string') {
    request.answer(status, BODY_TEXT, body, headers)
  } else if (body === undefined || body === null) {
    request.answer(status, BODY_NOTHING, null, headers)
  } else if (body instanceof Uint8Array) {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
    request.answer(status, BODY_BINARY, bytes, headers)
  } else {
    const json = JSON.stringify(body)
    if (json === undefined) throw new TypeError(`the handler's result is not JSON-serializable: ${typeof body}`)
    request.answer(status, BODY_JSON, json, headers)
  }
}

function flatten(headers: Record<string, string>): string[] {
  const list: string[] = []
  for (const name of Object.keys(headers)) list.push(name, String(headers[name]))
  return list
}

function fail(request: native.Request, error: unknown): void {
  if (error instanceof HttpError) {
    try {
      request.refuse(error.status, error.detail)
      return
    } catch (invalid) {
      error = invalid // a status outside 400-599: a handler failure
    }
  }
  if ((error as Error | null)?.name === 'AbortError') {
    // Aborted before answering: core answers 500 `no-response`.
    request.abandon()
    return
  }
  console.error(`armature: handler of ${request.operationId} failed (request ${request.requestId}):`, error)
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  request.fail(message)
}
