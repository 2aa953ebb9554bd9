/** The application object: handlers bound to operations, and the ways to run them. */

import * as native from '../native'
import { Dispatcher, type Handler, type Operation } from './dispatch'
import type { Request } from './request'
import type { BodyOf, JsonSchema, PathParamsOf, QueryParamsOf } from './schema'
import { ConfigError, ContractError, native as call, translate } from './errors'

export type { JsonSchema } from './schema'

/** Where the contract and the configuration come from. */
export interface AppOptions {
  /**
   * An OpenAPI file, or an already parsed document. Without one, the configuration's
   * `contract.path`, else the operations declared in code make up the whole contract.
   */
  contract?: string | Record<string, unknown>
  /** A YAML, JSON or TOML file; else `ARMATURE_CONFIG` names one, else the embedded defaults. */
  config?: string
  /** `info.title` of a contract made only of code-first operations. */
  title?: string
  /** `info.version` of a contract made only of code-first operations. */
  version?: string
}

/** Options of a contract-first operation. */
export interface OperationOptions {
  /** The status of a plain return value (object, string, Buffer); 200 unless given. */
  status?: number
}

/** Options of a code-first operation: what it adds to the served contract. */
export interface RouteOptions extends OperationOptions {
  /** Its operationId; else made from the method and the path (`GET /users/{id}`: `getUsersById`). */
  operationId?: string
  /** `summary` in the contract. */
  summary?: string
  /** Schemas of path parameters by name (a path parameter without one is a string). */
  params?: Record<string, JsonSchema>
  /** Schemas of query parameters by name (all optional unless their schema says `required`). */
  query?: Record<string, JsonSchema>
  /** The schema of a JSON request body (required). */
  body?: JsonSchema
  /** Response schemas by status (`{ 200: schema }`). */
  response?: Record<number, JsonSchema>
}

/**
 * The request a code-first route's handler gets: its path parameters (every `{name}` of the path,
 * typed by its schema in `params`, else a string), its query parameters (typed by `query`;
 * optional unless a schema has a `default`) and its JSON body (typed by `body`).
 */
export type RouteRequest<P extends string, O> = Request<
  PathParamsOf<P, O extends { params: infer S } ? S : Record<never, never>>,
  O extends { query: infer Q } ? QueryParamsOf<Q> : Record<string, unknown>,
  O extends { body: infer B } ? BodyOf<B> : unknown
>

/** Any handler, whatever request type it was declared with (routes store them untyped). */
type AnyHandler = (request: never) => unknown

/** Where `listen` binds; the configuration's `server.host` and `server.port` otherwise. */
export interface ListenOptions {
  host?: string
  port?: number
}

/** The address a listening app is bound to. */
export interface Address {
  host: string
  port: number
  /** `http://host:port`. */
  url: string
}

/** An in-process request. */
export interface InjectOptions {
  /** GET unless given. */
  method?: string
  /** Path and query, `/users/1?verbose=true`. */
  url: string
  headers?: Record<string, string | string[]>
  /** A string or bytes as they are; another value as JSON (with `content-type: application/json`). */
  body?: unknown
}

/** The answer of an in-process request. */
export interface InjectResponse {
  statusCode: number
  /** By lower-case name; repeated headers joined with ", ". */
  headers: Record<string, string>
  /** The body as text. */
  body: string
  /** The body as bytes. */
  rawBody: Buffer
  /** The body parsed as JSON. */
  json<T = unknown>(): T
}

type State =
  | { kind: 'configuring' }
  | { kind: 'built'; service: native.Service }
  | { kind: 'listening'; service: native.Service; stopped: Promise<void>; signals: () => void }
  | { kind: 'closed'; service: native.Service }

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
export class App {
  readonly #options: AppOptions
  readonly #operations = new Map<string, Operation>()
  readonly #declared: Record<string, unknown>[] = []
  #state: State = { kind: 'configuring' }

  constructor(options: AppOptions = {}) {
    this.#options = options
  }

  /** Binds `handler` to an operation of the contract, by operationId. */
  operation(operationId: string, handler: Handler): this
  operation(operationId: string, options: OperationOptions, handler: Handler): this
  operation(operationId: string, ...rest: [Handler] | [OperationOptions, Handler]): this {
    const [options, handler] = rest.length === 1 ? [{}, rest[0]] : rest
    this.#bind(operationId, handler, options.status ?? 200)
    return this
  }

  /**
   * Declares an operation in code, adds it to the served contract, and binds `handler`, whose
   * request is typed by the route's schemas (see `RouteRequest`).
   */
  route<const P extends string, const O extends RouteOptions>(
    method: string,
    path: P,
    options: O,
    handler: Handler<RouteRequest<P, O>>,
  ): this {
    return this.#declare(method, path, options, handler)
  }

  #declare(method: string, path: string, options: RouteOptions, handler: AnyHandler): this {
    const operationId = options.operationId ?? native.defaultOperationId(method, path)
    const status = options.status ?? 200
    const spec: Record<string, unknown> = { method: method.toUpperCase(), path, operation_id: operationId }
    if (options.summary !== undefined) spec.summary = options.summary
    if (options.params !== undefined) spec.path_params = options.params
    if (options.query !== undefined) spec.query_params = options.query
    if (options.body !== undefined) spec.request_body = { schema: options.body }
    if (options.response !== undefined) {
      spec.responses = Object.entries(options.response).map(([code, schema]) => ({ status: Number(code), schema }))
    }
    this.#bind(operationId, handler as unknown as Handler, status)
    this.#declared.push(spec)
    return this
  }

  /** `route('GET', path, options, handler)`. */
  get<const P extends string>(path: P, handler: Handler<RouteRequest<P, object>>): this
  get<const P extends string, const O extends RouteOptions>(path: P, options: O, handler: Handler<RouteRequest<P, O>>): this
  get(path: string, ...rest: [AnyHandler] | [RouteOptions, AnyHandler]): this {
    return this.#route('GET', path, rest)
  }

  /** `route('POST', path, options, handler)`. */
  post<const P extends string>(path: P, handler: Handler<RouteRequest<P, object>>): this
  post<const P extends string, const O extends RouteOptions>(path: P, options: O, handler: Handler<RouteRequest<P, O>>): this
  post(path: string, ...rest: [AnyHandler] | [RouteOptions, AnyHandler]): this {
    return this.#route('POST', path, rest)
  }

  /** `route('PUT', path, options, handler)`. */
  put<const P extends string>(path: P, handler: Handler<RouteRequest<P, object>>): this
  put<const P extends string, const O extends RouteOptions>(path: P, options: O, handler: Handler<RouteRequest<P, O>>): this
  put(path: string, ...rest: [AnyHandler] | [RouteOptions, AnyHandler]): this {
    return this.#route('PUT', path, rest)
  }

  /** `route('PATCH', path, options, handler)`. */
  patch<const P extends string>(path: P, handler: Handler<RouteRequest<P, object>>): this
  patch<const P extends string, const O extends RouteOptions>(path: P, options: O, handler: Handler<RouteRequest<P, O>>): this
  patch(path: string, ...rest: [AnyHandler] | [RouteOptions, AnyHandler]): this {
    return this.#route('PATCH', path, rest)
  }

  /** `route('DELETE', path, options, handler)`. */
  delete<const P extends string>(path: P, handler: Handler<RouteRequest<P, object>>): this
  delete<const P extends string, const O extends RouteOptions>(path: P, options: O, handler: Handler<RouteRequest<P, O>>): this
  delete(path: string, ...rest: [AnyHandler] | [RouteOptions, AnyHandler]): this {
    return this.#route('DELETE', path, rest)
  }

  /**
   * Compiles the contract and binds the handlers, once; `listen`, `inject` and `openapi` do it
   * when needed. Throws `ConfigError` or `ContractError` naming what is wrong. No handler can
   * be added afterwards.
   */
  ready(listen: ListenOptions = {}): this {
    if (this.#state.kind === 'configuring') this.#state = { kind: 'built', service: this.#build(listen) }
    return this
  }

  /** The OpenAPI document served at `/openapi.json`. */
  openapi(): Record<string, unknown> {
    return JSON.parse(call(() => this.#service().openapiJson())) as Record<string, unknown>
  }

  /**
   * Starts serving on core's threads; resolves with the bound address once the socket is bound.
   * Until `close`, the process stays alive. SIGTERM and SIGINT close the app and exit 0, and
   * SIGHUP reloads it (see `reload`), unless the process already has listeners for them.
   */
  async listen(options: ListenOptions = {}): Promise<Address> {
    if (this.#state.kind !== 'configuring' && this.#state.kind !== 'built') {
      throw new ContractError(`the app is already ${this.#state.kind}`)
    }
    if (this.#state.kind === 'built' && (options.host !== undefined || options.port !== undefined)) {
      throw new ContractError('the app was built (by inject or openapi) before listen was given a host or port')
    }
    const service = this.#state.kind === 'built' ? this.#state.service : this.#build(options)
    const bound = call(() => service.start())
    const stopped = service.wait()
    this.#state = { kind: 'listening', service, stopped, signals: this.#onSignals() }
    const colon = bound.lastIndexOf(':')
    const host = bound.slice(0, colon).replace(/^\[|\]$/g, '')
    const port = Number(bound.slice(colon + 1))
    return { host, port, url: `http://${bound}` }
  }

  /**
   * Re-reads the files the configuration names for identity (JWT key and JWKS files, Basic
   * users), authorization (Rego policies and data) and HTTPS (certificate and key), and swaps
   * them in at once, as SIGHUP does: requests in flight finish on the old set. Throws
   * `ConfigError` naming the file, and changes nothing, when one cannot be used. Blocks while
   * the policy compiles. Does nothing unless the app is listening or built.
   */
  reload(): void {
    const state = this.#state
    if (state.kind === 'configuring') return
    call(() => state.service.reload())
  }

  /** Stops accepting, finishes the requests in flight, and resolves once the server has stopped. */
  async close(): Promise<void> {
    const state = this.#state
    // Never listened, or closed already: nothing to stop.
    if (state.kind !== 'listening') return
    state.service.shutdown()
    state.signals()
    await state.stopped
    this.#state = { kind: 'closed', service: state.service }
  }

  /**
   * Runs one request through the whole pipeline in-process, no socket (like Fastify's `inject`),
   * for tests. The handlers run on this thread, as they would for a real request.
   */
  inject(options: InjectOptions): Promise<InjectResponse> {
    const service = this.#service()
    const headers: string[] = []
    let hasContentType = false
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      for (const one of Array.isArray(value) ? value : [value]) headers.push(name, one)
      hasContentType ||= name.toLowerCase() === 'content-type'
    }
    let body: Buffer
    const given = options.body
    if (given === undefined || given === null) {
      body = Buffer.alloc(0)
    } else if (typeof given === 'string') {
      body = Buffer.from(given)
    } else if (given instanceof Uint8Array) {
      body = Buffer.from(given)
    } else {
      body = Buffer.from(JSON.stringify(given))
      if (!hasContentType) headers.push('content-type', 'application/json')
    }
    return new Promise((resolve, reject) => {
      try {
        service.inject(options.method ?? 'GET', options.url, headers, body, (answer) => resolve(injected(answer)))
      } catch (error) {
        reject(translate(error))
      }
    })
  }

  #route(method: string, path: string, rest: [AnyHandler] | [RouteOptions, AnyHandler]): this {
    const [options, handler] = rest.length === 1 ? [{}, rest[0]] : rest
    return this.#declare(method, path, options, handler)
  }

  #bind(operationId: string, handler: Handler, status: number): void {
    if (this.#state.kind !== 'configuring') {
      throw new ContractError(`cannot bind ${operationId}: the app is already ${this.#state.kind}`)
    }
    if (typeof handler !== 'function') throw new TypeError(`the handler of ${operationId} is not a function`)
    if (this.#operations.has(operationId)) {
      throw new ContractError(`two handlers registered for operationId '${operationId}'`)
    }
    this.#operations.set(operationId, { handler, status })
  }

  #service(): native.Service {
    return this.ready().#state.kind === 'configuring' ? this.#build({}) : (this.#state as { service: native.Service }).service
  }

  #build(listen: ListenOptions): native.Service {
    const contract = this.#options.contract
    const options: native.ServiceOptions = {
      configPath: this.#options.config,
      contractPath: typeof contract === 'string' ? contract : undefined,
      contractJson: typeof contract === 'object' ? JSON.stringify(contract) : undefined,
      operationsJson: this.#declared.length > 0 ? JSON.stringify(this.#declared) : undefined,
      handlers: [...this.#operations.keys()],
      title: this.#options.title,
      version: this.#options.version,
      host: listen.host,
      port: listen.port,
    }
    let dispatcher: Dispatcher | undefined
    const service = call(() => new native.Service(options, () => dispatcher!.drain()))
    dispatcher = new Dispatcher(service, this.#operations)
    return service
  }

  #onSignals(): () => void {
    const installed: NodeJS.Signals[] = []
    const onSignal = (): void => {
      this.close().then(
        () => process.exit(0),
        (error: unknown) => {
          console.error('armature: closing failed:', error)
          process.exit(1)
        },
      )
    }
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      if (process.listenerCount(signal) === 0) {
        process.once(signal, onSignal)
        installed.push(signal)
      }
    }
    const onHangup = (): void => {
      try {
        this.reload()
      } catch (error) {
        // Core has logged and counted the failure; the service runs on as before.
        if (!(error instanceof ConfigError)) throw error
      }
    }
    const reloads = process.listenerCount('SIGHUP') === 0
    if (reloads) process.on('SIGHUP', onHangup)
    return () => {
      for (const signal of installed) process.removeListener(signal, onSignal)
      if (reloads) process.removeListener('SIGHUP', onHangup)
    }
  }
}

function injected(answer: native.InjectedResponse): InjectResponse {
  const headers: Record<string, string> = {}
  for (let i = 0; i + 1 < answer.headers.length; i += 2) {
    const name = answer.headers[i]!
    const value = answer.headers[i + 1]!
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value
  }
  const rawBody = answer.body
  const body = rawBody.toString('utf8')
  return {
    statusCode: answer.status,
    headers,
    body,
    rawBody,
    json: <T>() => JSON.parse(body) as T,
  }
}
