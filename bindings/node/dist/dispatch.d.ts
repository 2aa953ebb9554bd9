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
/** The handlers of one service, and the answers on their way back to it. */
export declare class Dispatcher {
    #private;
    /** `operations` in the order their ids were given to the service as `handlers`. */
    constructor(service: native.Service, operations: Map<string, Operation>);
    /** Takes and dispatches every waiting request. */
    drain(): void;
}
