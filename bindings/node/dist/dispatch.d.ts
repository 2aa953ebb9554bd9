/**
 * Runs handlers for the requests core hands over, on the main thread.
 *
 * Core threads never wait for JavaScript: they push requests into a bounded queue, whose waker
 * queues one call of `drain` on the event loop when it goes from empty to non-empty; one drain
 * takes every waiting request. What a handler returns or throws is turned into the answer here;
 * what the answer *means* (status checks, response validation, problem bodies) is decided by
 * core.
 */
import type * as native from '../native';
import { Request } from './request';
/**
 * A handler: what it returns (or its promise resolves to) becomes the answer. A code-first
 * route's handler takes a `Request` typed by the route's schemas.
 */
export type Handler<R = Request> = (request: R) => unknown;
/** A handler bound to an operationId, with the status of its plain return values. */
export interface Operation {
    handler: Handler;
    status: number;
}
/** Takes and dispatches every waiting request of `service`. */
export declare function drain(service: native.Service, operations: Map<string, Operation>): void;
