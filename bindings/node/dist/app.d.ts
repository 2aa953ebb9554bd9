/** The application object: handlers bound to operations, and the ways to run them. */
import { type Handler } from './dispatch';
import type { Request } from './request';
import type { BodyOf, JsonSchema, PathParamsOf, QueryParamsOf } from './schema';
export type { JsonSchema } from './schema';
/** Where the contract and the configuration come from. */
export interface AppOptions {
    /**
     * An OpenAPI file, or an already parsed document. Without one, the configuration's
     * `contract.path`, else the operations declared in code make up the whole contract.
     */
    contract?: string | Record<string, unknown>;
    /** A YAML, JSON or TOML file; else `ARMATURE_CONFIG` names one, else the embedded defaults. */
    config?: string;
    /** `info.title` of a contract made only of code-first operations. */
    title?: string;
    /** `info.version` of a contract made only of code-first operations. */
    version?: string;
}
/** Options of a contract-first operation. */
export interface OperationOptions {
    /** The status of a plain return value (object, string, Buffer); 200 unless given. */
    status?: number;
}
/** Options of a code-first operation: what it adds to the served contract. */
export interface RouteOptions extends OperationOptions {
    /** Its operationId; else made from the method and the path (`GET /users/{id}`: `getUsersById`). */
    operationId?: string;
    /** `summary` in the contract. */
    summary?: string;
    /** Schemas of path parameters by name (a path parameter without one is a string). */
    params?: Record<string, JsonSchema>;
    /** Schemas of query parameters by name (all optional unless their schema says `required`). */
    query?: Record<string, JsonSchema>;
    /** The schema of a JSON request body (required). */
    body?: JsonSchema;
    /** Response schemas by status (`{ 200: schema }`). */
    response?: Record<number, JsonSchema>;
}
/**
 * The request a code-first route's handler gets: its path parameters (every `{name}` of the path,
 * typed by its schema in `params`, else a string), its query parameters (typed by `query`;
 * optional unless a schema has a `default`) and its JSON body (typed by `body`).
 */
export type RouteRequest<P extends string, O> = Request<PathParamsOf<P, O extends {
    params: infer S;
} ? S : Record<never, never>>, O extends {
    query: infer Q;
} ? QueryParamsOf<Q> : Record<string, unknown>, O extends {
    body: infer B;
} ? BodyOf<B> : unknown>;
/** Where `listen` binds; the configuration's `server.host` and `server.port` otherwise. */
export interface ListenOptions {
    host?: string;
    port?: number;
}
/** The address a listening app is bound to. */
export interface Address {
    host: string;
    port: number;
    /** `http://host:port`. */
    url: string;
}
/** An in-process request. */
export interface InjectOptions {
    /** GET unless given. */
    method?: string;
    /** Path and query, `/users/1?verbose=true`. */
    url: string;
    headers?: Record<string, string | string[]>;
    /** A string or bytes as they are; another value as JSON (with `content-type: application/json`). */
    body?: unknown;
}
/** The answer of an in-process request. */
export interface InjectResponse {
    statusCode: number;
    /** By lower-case name; repeated headers joined with ", ". */
    headers: Record<string, string>;
    /** The body as text. */
    body: string;
    /** The body as bytes. */
    rawBody: Buffer;
    /** The body parsed as JSON. */
    json<T = unknown>(): T;
}
/**
 * An Armature service: a contract, a configuration and JavaScript handlers. Core does the
 * routing, identity, policy, validation, problems and telemetry; handlers only answer.
 *
 * ```ts
 * const app = new App()
 * app.get('/hello/{name}', (req) => ({ hello: req.params.path.name }))
 * await app.listen({ port: 8080 })
 * ```
 */
export declare class App {
    #private;
    constructor(options?: AppOptions);
    /** Binds `handler` to an operation of the contract, by operationId. */
    operation(operationId: string, handler: Handler): this;
    operation(operationId: string, options: OperationOptions, handler: Handler): this;
    /**
     * Declares an operation in code, adds it to the served contract, and binds `handler`, whose
     * request is typed by the route's schemas (see `RouteRequest`).
     */
    route<const P extends string, const O extends RouteOptions>(method: string, path: P, options: O, handler: Handler<RouteRequest<P, O>>): this;
    /** `route('GET', path, options, handler)`. */
    get<const P extends string>(path: P, handler: Handler<RouteRequest<P, object>>): this;
    get<const P extends string, const O extends RouteOptions>(path: P, options: O, handler: Handler<RouteRequest<P, O>>): this;
    /** `route('POST', path, options, handler)`. */
    post<const P extends string>(path: P, handler: Handler<RouteRequest<P, object>>): this;
    post<const P extends string, const O extends RouteOptions>(path: P, options: O, handler: Handler<RouteRequest<P, O>>): this;
    /** `route('PUT', path, options, handler)`. */
    put<const P extends string>(path: P, handler: Handler<RouteRequest<P, object>>): this;
    put<const P extends string, const O extends RouteOptions>(path: P, options: O, handler: Handler<RouteRequest<P, O>>): this;
    /** `route('PATCH', path, options, handler)`. */
    patch<const P extends string>(path: P, handler: Handler<RouteRequest<P, object>>): this;
    patch<const P extends string, const O extends RouteOptions>(path: P, options: O, handler: Handler<RouteRequest<P, O>>): this;
    /** `route('DELETE', path, options, handler)`. */
    delete<const P extends string>(path: P, handler: Handler<RouteRequest<P, object>>): this;
    delete<const P extends string, const O extends RouteOptions>(path: P, options: O, handler: Handler<RouteRequest<P, O>>): this;
    /**
     * Compiles the contract and binds the handlers, once; `listen`, `inject` and `openapi` do it
     * when needed. Throws `ConfigError` or `ContractError` naming what is wrong. No handler can
     * be added afterwards.
     */
    ready(listen?: ListenOptions): this;
    /** The OpenAPI document served at `/openapi.json`. */
    openapi(): Record<string, unknown>;
    /**
     * Starts serving on core's threads; resolves with the bound address once the socket is bound.
     * Until `close`, the process stays alive. SIGTERM and SIGINT close the app and exit 0, and
     * SIGHUP reloads it (see `reload`), unless the process already has listeners for them.
     */
    listen(options?: ListenOptions): Promise<Address>;
    /**
     * Re-reads the files the configuration names for identity (JWT key and JWKS files, Basic
     * users), authorization (Rego policies and data) and HTTPS (certificate and key), and swaps
     * them in at once, as SIGHUP does: requests in flight finish on the old set. Throws
     * `ConfigError` naming the file, and changes nothing, when one cannot be used. Blocks while
     * the policy compiles. Does nothing unless the app is listening or built.
     */
    reload(): void;
    /** Stops accepting, finishes the requests in flight, and resolves once the server has stopped. */
    close(): Promise<void>;
    /**
     * Runs one request through the whole pipeline in-process, no socket (like Fastify's `inject`),
     * for tests. The handlers run on this thread, as they would for a real request.
     */
    inject(options: InjectOptions): Promise<InjectResponse>;
}
