/** One request as a handler sees it: read from core when asked for, then kept. */
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
/** Parameters the contract declares, decoded and typed as its schemas say. */
export interface Params {
    /** Path parameters by name. */
    path: Record<string, unknown>;
    /** Query parameters by name (absent optional ones missing, or their schema default). */
    query: Record<string, unknown>;
    /** Header parameters by the name the contract gives. */
    header: Record<string, unknown>;
    /** Cookie parameters by name. */
    cookie: Record<string, unknown>;
}
/** A request that passed the whole pipeline: routing, identity, policy, validation. */
export declare class Request {
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
    get params(): Params;
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
     * The body as JSON: what core parsed and validated against the contract when it declares a
     * JSON body; null without a body; throws when it is not JSON.
     */
    json<T = unknown>(): T;
    /** The request id (the client's `x-request-id`, else a UUIDv7), echoed in the response. */
    get requestId(): string;
    /** The W3C trace id, 32 hex digits. */
    get traceId(): string;
    /** The id of this request's server span, 16 hex digits. */
    get spanId(): string;
    /** The `traceparent` header value for an outgoing call made while handling this request. */
    traceparent(): string;
    /** Who is calling. */
    get identity(): Identity;
    /** The caller's subject; null when anonymous. */
    get subject(): string | null;
}
