/**
 * The conformance handlers in TypeScript: every operation of conformance/contract.yaml, answering
 * what conformance/README.md lists (the same answers as the Rust, C and Python services).
 *
 * `ci/serve node` runs the compiled file (dist-test/test/conformance_app.js): it reads
 * conformance/config.yaml and conformance/contract.yaml, with ARMATURE_* environment overrides.
 * The tests import `app` from it to run the cases through `inject`.
 */

import { setTimeout as sleep } from 'node:timers/promises'
import * as path from 'node:path'

import { App, HttpError, Reply, type Request } from '@armature/core'

/** The repository's conformance/ folder (this file runs from bindings/node/dist-test/test). */
export const CONFORMANCE = path.resolve(__dirname, '../../../../conformance')

type User = Record<string, unknown>

function withoutPassword(body: User): User {
  const { password: _password, ...user } = body
  return user
}

export function conformanceApp(): App {
  const app = new App({
    contract: path.join(CONFORMANCE, 'contract.yaml'),
    config: path.join(CONFORMANCE, 'config.yaml'),
  })
  const noContent = (): null => null
  const whoami = (req: Request): unknown => req.identity
  app
    .operation('plaintext', () => new Reply(200, 'Hello, World!', { 'content-type': 'text/plain' }))
    .operation('json', () => ({ message: 'Hello, World!' }))
    .operation('getUser', (req) => ({ id: req.params.path.id, name: 'Alice', email: 'alice@example.com', age: 30 }))
    .operation('createUser', { status: 201 }, (req) => ({ ...withoutPassword(req.json<User>()), id: 1 }))
    .operation('updateUser', (req) => ({ ...withoutPassword(req.json<User>()), id: req.params.path.id }))
    .operation('deleteUser', noContent)
    .operation('deleteNote', noContent)
    .operation('search', (req) => ({ query: req.params.query }))
    .operation('echoHeaders', (req) => {
      const { header, cookie } = req.params
      const echoed: Record<string, unknown> = { tenant: header['X-Tenant'], count: header['X-Count'], session: cookie.session }
      return Object.fromEntries(Object.entries(echoed).filter(([, value]) => value !== undefined))
    })
    .operation('getItems', (req) => ({ ids: req.params.path.ids }))
    .operation('createPet', (req) => new Reply(201, req.body, { 'content-type': 'application/json' }))
    .operation('echoText', (req) => new Reply(200, req.body, { 'content-type': 'text/plain' }))
    .operation('context', (req) => ({
      operation_id: req.operationId,
      method: req.method,
      path: req.path,
      request_id: req.requestId,
      trace_id: req.traceId,
    }))
    .operation('brokenResponse', () => ({ message: 42 }))
    .operation('undocumentedStatus', () => new Reply(418, {}))
    .operation('failingHandler', () => {
      throw new Error('database exploded')
    })
    .operation('refusingHandler', () => {
      throw new HttpError(409, 'the handler refused this request')
    })
    .operation('slowHandler', async (req) => {
      const ms = Number(req.params.query.ms ?? 0)
      await sleep(ms)
      return { slept_ms: ms }
    })
    .operation('droppedResponder', async () => {
      // A handler aborted before it answers: the pipeline answers 500 no-response.
      throw new DOMException('the handler gave up', 'AbortError')
    })
    .operation('whoami', whoami)
    .operation('whoamiOptional', whoami)
    .operation('whoamiBasic', whoami)
    .operation('listNotes', (req) => ({
      owner: req.params.path.owner,
      viewer: req.subject,
      notes: [],
      rule: req.header('x-authz-rule') ?? null,
    }))
    .operation('createNote', { status: 201 }, (req) => ({
      owner: req.params.path.owner,
      text: req.json<{ text?: string }>().text,
      author: req.subject,
    }))
    .operation('policyError', () => ({ message: 'the policy should have refused this' }))
    // A string's own content type is text/plain; the header names another, which wins.
    .operation('contentTypeBoth', () => new Reply(200, 'a,b', { 'Content-Type': 'text/csv' }))
    .operation('mixedCaseHeaders', () => new Reply(200, 'a,b', { 'content-TYPE': 'text/csv', 'X-Custom-HEADER': 'yes' }))
    .operation('nothingOk', () => undefined)
    .operation('nothingCreated', { status: 201 }, () => undefined)
    .operation('orderedKeys', () => ({ id: 1, owner: 'alice', title: 't', body: 'b' }))
    .operation('outgoingCalls', (req) => {
      const first = req.outgoingHeaders()
      const second = req.outgoingHeaders()
      return { outgoing: [first.traceparent, second.traceparent], tracestate: first.tracestate ?? null }
    })
  return app
}

if (require.main === module) {
  conformanceApp()
    .listen()
    .then((address) => console.error(`armature: listening on ${address.url} (pid ${process.pid})`))
    .catch((error: unknown) => {
      console.error(error)
      process.exit(1)
    })
}
