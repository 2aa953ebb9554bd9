/**
 * One request as a handler sees it: decoded from its record of the batch it came in (lib/batch.ts)
 * when asked for. Identity, cookies and outgoing calls cross into core when asked for, which they
 * can until the request is answered.
 */
import type * as native from '../native';
/** Who is calling, as policies see it. */
export interface Identity {
    /** `anonymous`, `jwt`, `api_key` or `mtls`. */
    kind: string;
    /** The `sub` claim, API key name or SPIFFE id; null when anonymous. */
    subject: string | null;
    /** The token's claims (empty for other kinds). */
    claims: Record<string, unknown>;
    /** Scopes granted. */
    scopes: string[];
}
/**
 * Parameters the contract declares, decoded and typed as its schemas say. For a code-first route
 * (`app.get(path, { params, query }, handler)`) `P` and `Q` are the types its schemas give.
 */
export interface Params<P = Record<string, unknown>, Q = Record<string, unknown>> {
    /** Path parameters by name. */
    path: P;
    /** Query parameters by name (absent optional ones missing, or their schema default). */
    query: Q;
    /** Header parameters by the name the contract gives. */
    header: Record<string, unknown>;
    /** Cookie parameters by name. */
    cookie: Record<string, unknown>;
}
/**
 * A request that passed the whole pipeline: routing, identity, policy, validation. A code-first
 * route's handler gets its path (`P`) and query (`Q`) parameters and its JSON body (`B`) typed
 * from the route's schemas; a contract-first operation's are `unknown` values by name.
 */
export declare class Request<P = Record<string, unknown>, Q = Record<string, unknown>, B = unknown> {
    #private;
    /** The HTTP method, upper case. */
    get method(): string;
    /** The path, still percent-encoded, without the query. */
    get path(): string;
    /** The raw query string without `?`, or null. */
    get queryString(): string | null;
    /** The operationId the request was routed to. */
    get operationId(): string;
    /** Path, query, header and cookie parameters, typed. */
    get params(): Params<P, Q>;
    /** Every header by lower-case name; repeated headers joined with ", ". */
    get headers(): Record<string, string>;
    /** One header by name (any case); undefined when absent. */
    header(name: string): string | undefined;
    /** Every cookie by name (the first of a name wins). */
    get cookies(): Record<string, string>;
    /** The body as bytes. */
    get body(): Buffer;
    /** The body as UTF-8 text; throws when it is not UTF-8. */
    get text(): string;
    /**
     * The body as JSON: what core validated against the contract when it declares a JSON body;
     * null without a body; throws when it is not JSON.
     */
    json<T = B>(): T;
    /** The request id (the client's `x-request-id`, else a UUIDv7), echoed in the response. */
    get requestId(): string;
    /** The W3C trace id, 32 hex digits. */
    get traceId(): string;
    /** The id of this request's server span, 16 hex digits. */
    get spanId(): string;
    /** The caller's span id, when a valid `traceparent` came in; null otherwise. */
    get parentSpanId(): string | null;
    /** The trace-flags byte: bit 0 sampled, bit 1 random trace id. */
    get traceFlags(): number;
    /** Whether the trace is sampled (this request's span is recorded when tracing is on). */
    get sampled(): boolean;
    /** The validated, normalized `tracestate` of the request; null when it had none. */
    get tracestate(): string | null;
    /**
     * The `traceparent` to send on an outgoing call: this trace, and a new span id for each call
     * (its own child of this request's span). The headers to send are `outgoingHeaders()`.
     */
    traceparent(): string;
    /**
     * The headers to send on an outgoing call made while handling this request: `traceparent` with
     * a new span id (each call its own child of this request's span) and, when the request had one,
     * `tracestate`. No span is exported for the call; `clientSpan` does that.
     *
     * ```ts
     * const stock = await fetch(url, { headers: req.outgoingHeaders() })
     * ```
     */
    outgoingHeaders(): Record<string, string>;
    /**
     * Begins an outgoing call exported as a client span when this request's span is recorded (the
     * same span docs/telemetry.md describes for every language): send `span.headers` on the call,
     * then `span.end(status)`, or `span.end(undefined, 'timeout')` when it failed.
     */
    clientSpan(name: string, options?: {
        method?: string;
        url?: string;
    }): ClientSpan;
    /** Who is calling. */
    get identity(): Identity;
    /** The caller's subject; null when anonymous. */
    get subject(): string | null;
}
/** One outgoing call, exported as a client span when it ends (see `Request.clientSpan`). */
export type ClientSpan = native.ClientSpan;
