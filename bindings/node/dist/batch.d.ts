/**
 * The two byte layouts of the crossing (src/batch.rs defines them and exports their offsets):
 * a batch of requests arrives from core as one buffer per `take`, and the answers the handlers
 * gave synchronously go back as one buffer per drain. A request's attributes are decoded from
 * its record only when read, and never cross again.
 */
import * as native from '../native';
import { Field } from '../native';
/** One request of a batch, by its record; and the way its answer goes back. */
export declare class Incoming {
    readonly service: native.Service;
    /** The operationIds by their place in the service's handler list. */
    readonly operationIds: readonly string[];
    readonly batch: Buffer;
    readonly base: number;
    /** The operation's place in the service's handler list. */
    readonly operation: number;
    readonly slot: number;
    readonly generation: number;
    /** Whether an answer was given (or queued in the answer batch). */
    answered: boolean;
    constructor(service: native.Service, 
    /** The operationIds by their place in the service's handler list. */
    operationIds: readonly string[], batch: Buffer, base: number);
    /** The operationId the request was routed to. */
    get operationId(): string;
    /** The trace-flags byte. */
    get traceFlags(): number;
    /** Whether the trace is sampled. */
    get sampled(): boolean;
    /** Where a field's bytes are: [start, end), or null when it is absent. */
    span(field: Field): [number, number] | null;
    /** A field as text; null when absent. */
    text(field: Field): string | null;
    /** A field that is always there, as text. */
    string(field: Field): string;
    /** A JSON field, parsed. */
    json(field: Field): Record<string, unknown>;
    /** The body's bytes, a view into the batch (copy before handing it out). */
    body(): Buffer;
    /** Every header as a flat list, name, value... */
    headerList(): string[];
}
/** Calls `each` with every request of a batch that `take` returned; whether more were waiting. */
export declare function forEachRequest(service: native.Service, operationIds: readonly string[], batch: Buffer, each: (request: Incoming) => void): boolean;
/**
 * Answers waiting to cross, in the answer layout. Flushed once per drain for the synchronous
 * answers, and once per microtask checkpoint for the ones promises gave.
 */
export declare class Answers {
    #private;
    readonly service: native.Service;
    /** Called for an answer core's answer rule refused; its request still waits. */
    readonly refused: (request: Incoming, error: Error) => void;
    constructor(service: native.Service, 
    /** Called for an answer core's answer rule refused; its request still waits. */
    refused: (request: Incoming, error: Error) => void);
    /**
     * Queues the answer of `request`: `kind` (a `BODY_*` constant) says what `body` is, `headers`
     * is a flat list (name, value...). Throws, queueing nothing, when a header is not a string.
     */
    add(request: Incoming, status: number, kind: number, body: string | Uint8Array | null, headers: string[] | undefined): void;
    /** Sends every queued answer in one call. */
    flush(): void;
}
