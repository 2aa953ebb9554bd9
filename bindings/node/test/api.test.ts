/** The API: building, code-first operations, answers, refusals, errors, the life cycle. */

import { strict as assert } from 'node:assert'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { test } from 'node:test'

import { App, ArmatureError, ConfigError, ContractError, HttpError, Reply, ServerError, type Request } from '@armature/core'

test('a code-first route answers JSON with typed path parameters', async () => {
  const app = new App()
  app.get('/users/{id}', { params: { id: { type: 'integer' } } }, (req) => ({ id: req.params.path.id, method: req.method }))
  const response = await app.inject({ url: '/users/7' })
  assert.equal(response.statusCode, 200)
  assert.equal(response.headers['content-type'], 'application/json')
  assert.deepEqual(response.json(), { id: 7, method: 'GET' })
})

test('core validates a code-first body before the handler runs', async () => {
  let calls = 0
  const app = new App()
  const body = { type: 'object', required: ['name'], properties: { name: { type: 'string' } } }
  app.post('/pets', { body, status: 201 }, (req) => {
    calls += 1
    return req.json()
  })
  const created = await app.inject({ method: 'POST', url: '/pets', body: { name: 'Rex' } })
  assert.equal(created.statusCode, 201)
  assert.deepEqual(created.json(), { name: 'Rex' })
  const refused = await app.inject({ method: 'POST', url: '/pets', body: { name: 3 } })
  assert.equal(refused.statusCode, 400)
  assert.equal(refused.headers['content-type'], 'application/problem+json')
  assert.equal(calls, 1)
})

test('a response schema is enforced on what the handler returns', async () => {
  const app = new App()
  app.get('/n', { response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } } }, () => ({ n: 'x' }))
  const response = await app.inject({ url: '/n' })
  assert.equal(response.statusCode, 500)
  assert.match(response.json<{ type: string }>().type, /response-validation/)
})

test('strings are text, Buffers are bytes, null is 204, Reply sets status and headers', async () => {
  const app = new App()
  app.get('/text', () => 'hello')
  app.get('/bytes', () => Buffer.from([1, 2, 3]))
  app.get('/none', () => undefined)
  app.get('/custom', () => new Reply(202, { queued: true }, { 'x-queue': 'a', 'content-type': 'application/vnd.x+json' }))
  const text = await app.inject({ url: '/text' })
  assert.equal(text.headers['content-type'], 'text/plain; charset=utf-8')
  assert.equal(text.body, 'hello')
  const bytes = await app.inject({ url: '/bytes' })
  assert.equal(bytes.headers['content-type'], 'application/octet-stream')
  assert.deepEqual([...bytes.rawBody], [1, 2, 3])
  assert.equal((await app.inject({ url: '/none' })).statusCode, 204)
  const custom = await app.inject({ url: '/custom' })
  assert.equal(custom.statusCode, 202)
  assert.equal(custom.headers['x-queue'], 'a')
  assert.equal(custom.headers['content-type'], 'application/vnd.x+json')
  assert.deepEqual(custom.json(), { queued: true })
})

test('a standard fetch Response is answered as it is', async () => {
  const app = new App()
  app.get('/fetch', () => new globalThis.Response('hi', { status: 202, headers: { 'x-from': 'fetch' } }))
  app.get('/fetch-json', () => globalThis.Response.json({ ok: true }, { status: 201 }))
  app.get('/fetch-empty', () => new globalThis.Response(null, { status: 204 }))
  const text = await app.inject({ url: '/fetch' })
  assert.equal(text.statusCode, 202)
  assert.equal(text.body, 'hi')
  assert.equal(text.headers['x-from'], 'fetch')
  assert.equal(text.headers['content-type'], 'text/plain;charset=UTF-8')
  const json = await app.inject({ url: '/fetch-json' })
  assert.equal(json.statusCode, 201)
  assert.deepEqual(json.json(), { ok: true })
  assert.equal(json.headers['content-type'], 'application/json')
  const empty = await app.inject({ url: '/fetch-empty' })
  assert.equal(empty.statusCode, 204)
  assert.equal(empty.body, '')
})

test('a value JSON would write as {} by accident is refused, naming its type', async () => {
  class Opaque {
    #secret = 1
    get secret(): number {
      return this.#secret
    }
  }
  process.env.ARMATURE_ERRORS__DEBUG = 'true' // the reason in the problem body
  const app = new App()
  app.get('/map', () => new Map([['a', 1]]))
  app.get('/set', () => ({ tags: new Set(['a']) }))
  app.get('/opaque', () => new Opaque())
  app.get('/fine', () => ({ empty: {}, date: new Date(0), list: [] }))
  try {
    for (const [url, type] of [['/map', 'Map'], ['/set', 'Set'], ['/opaque', 'Opaque']] as const) {
      const refused = await app.inject({ url })
      assert.equal(refused.statusCode, 500, url)
      assert.equal(refused.json<{ type: string }>().type, 'https://armature.dev/problems/handler-error', url)
      assert.match(refused.body, new RegExp(`a ${type}, which JSON would write as \\{\\}`), url)
    }
  } finally {
    delete process.env.ARMATURE_ERRORS__DEBUG
  }
  const fine = await app.inject({ url: '/fine' })
  assert.equal(fine.statusCode, 200, fine.body)
  assert.equal(fine.body, '{"empty":{},"date":"1970-01-01T00:00:00.000Z","list":[]}')
})

test('HttpError is a refusal, any other throw or rejection a 500 handler-error', async () => {
  const app = new App()
  app.get('/refuse', () => {
    throw new HttpError(409, 'taken')
  })
  app.get('/throw', () => {
    throw new Error('boom')
  })
  app.get('/reject', async () => Promise.reject(new TypeError('late boom')))
  app.get('/bad-status', () => new Reply(99, 'x'))
  app.get('/bad-header', () => new Reply(200, 'x', { 'content-length': '1' }))
  app.get('/cycle', () => {
    const value: Record<string, unknown> = {}
    value.self = value
    return value
  })
  const refused = await app.inject({ url: '/refuse' })
  assert.equal(refused.statusCode, 409)
  assert.equal(refused.json<{ detail: string }>().detail, 'taken')
  for (const url of ['/throw', '/reject', '/bad-status', '/bad-header', '/cycle']) {
    const failed = await app.inject({ url })
    assert.equal(failed.statusCode, 500, url)
    assert.match(failed.json<{ type: string }>().type, /handler-error/, url)
    assert.doesNotMatch(failed.body, /boom/, `${url}: the message is not shown without errors.debug`)
  }
})

test('the request exposes headers, cookies, body, ids and the trace', async () => {
  let seen: Request | undefined
  const app = new App()
  app.post('/echo', (req) => {
    seen = req
    return {
      header: req.header('X-One'),
      headers: req.headers['x-one'],
      cookies: req.cookies,
      text: req.text,
      query: req.queryString,
      traceparent: req.traceparent(),
      outgoing: req.outgoingHeaders(),
      recording: (() => {
        const span = req.clientSpan('GET', { method: 'GET', url: 'http://inventory/stock' })
        const seen = { headers: span.headers, spanId: span.spanId, recording: span.recording }
        span.end(200)
        return seen
      })(),
      identity: req.identity.kind,
    }
  })
  const response = await app.inject({
    method: 'POST',
    url: '/echo?a=1',
    headers: { 'x-one': ['1', '2'], cookie: 'a=b; c=d', 'content-type': 'text/plain', 'x-request-id': 'req-1' },
    body: 'hi',
  })
  assert.equal(response.statusCode, 200, response.body)
  const body = response.json<Record<string, unknown>>()
  assert.equal(body.header, '1, 2')
  assert.equal(body.headers, '1, 2')
  assert.deepEqual(body.cookies, { a: 'b', c: 'd' })
  assert.equal(body.text, 'hi')
  assert.equal(body.query, 'a=1')
  assert.equal(body.identity, 'anonymous')
  assert.equal(seen?.requestId, 'req-1')
  assert.match(seen?.traceId ?? '', /^[0-9a-f]{32}$/)
  assert.match(seen?.spanId ?? '', /^[0-9a-f]{16}$/)
  // An outgoing call: this trace and its flags (a new trace: sampled, random trace id), a span of its own.
  assert.match(String(body.traceparent), new RegExp(`^00-${seen?.traceId}-[0-9a-f]{16}-03$`))
  assert.notEqual(body.traceparent, `00-${seen?.traceId}-${seen?.spanId}-03`)
  const outgoing = body.outgoing as Record<string, string>
  assert.match(outgoing.traceparent ?? '', new RegExp(`^00-${seen?.traceId}-[0-9a-f]{16}-03$`))
  assert.notEqual(outgoing.traceparent, body.traceparent, 'each call gets a span id of its own')
  assert.equal(outgoing.tracestate, undefined, 'the request had no tracestate')
  const span = body.recording as { headers: Record<string, string>; spanId: string; recording: boolean }
  assert.equal(span.headers.traceparent, `00-${seen?.traceId}-${span.spanId}-03`)
  assert.equal(span.recording, false, 'tracing is off')
  assert.equal(seen?.traceFlags, 3)
  assert.equal(seen?.sampled, true)
  assert.equal(seen?.tracestate, null)
  assert.equal(seen?.parentSpanId, null)
  assert.equal(response.headers['x-request-id'], 'req-1')
  // After the answer: what came in the request's batch stays readable; what is asked of core
  // (identity, cookies, outgoing calls) throws, naming why.
  assert.equal(seen?.method, 'POST')
  assert.equal(seen?.path, '/echo')
  assert.equal(seen?.body.toString(), 'hi')
  assert.equal(seen?.header('x-one'), '1, 2')
  assert.throws(() => seen?.outgoingHeaders(), (error: Error) => error instanceof ArmatureError && /answered/.test(error.message))
  assert.throws(() => seen?.identity, ArmatureError)
})

test('answers given together in one batch each reach their request', async () => {
  const app = new App()
  app.get('/n/{n}', { params: { n: { type: 'integer' } } }, (req) => {
    const n = req.params.path.n as number
    if (n % 5 === 0) return new Reply(200, 'x', { 'content-length': '1' }) // refused: a 500 among 200s
    return n % 2 === 0 ? { n } : Promise.resolve(`odd ${n}`)
  })
  const answers = await Promise.all(Array.from({ length: 60 }, (_, n) => app.inject({ url: `/n/${n}` })))
  answers.forEach((answer, n) => {
    if (n % 5 === 0) assert.equal(answer.statusCode, 500, `${n}`)
    else if (n % 2 === 0) assert.deepEqual(answer.json(), { n }, `${n}`)
    else assert.equal(answer.body, `odd ${n}`, `${n}`)
  })
})

test('contract errors name what is wrong', () => {
  const app = new App({ contract: { openapi: '3.1.0', info: { title: 't', version: '1' }, paths: {} } })
  app.operation('nope', () => 'x')
  assert.throws(() => app.ready(), (error: unknown) => error instanceof ContractError && /nope/.test(error.message))
  assert.throws(() => new App().ready(), ContractError)
  const twice = new App()
  twice.get('/a', { operationId: 'a' }, () => 'x')
  assert.throws(() => twice.get('/b', { operationId: 'a' }, () => 'y'), ContractError)
})

test('a configuration file that does not exist is a ConfigError', () => {
  const app = new App({ config: '/nonexistent/armature.yaml' })
  app.get('/a', () => 'x')
  assert.throws(() => app.ready(), ConfigError)
})

test('listen serves over HTTP and close drains; a taken port is a ServerError', async () => {
  const app = new App()
  app.get('/slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 100))
    return { done: true }
  })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  assert.equal(address.host, '127.0.0.1')
  assert.ok(address.port > 0)
  const inFlight = fetch(`${address.url}/slow`)
  await new Promise((resolve) => setTimeout(resolve, 30))
  const closing = app.close()
  const response = await inFlight
  assert.equal(response.status, 200)
  assert.deepEqual(await response.json(), { done: true })
  await closing

  const first = new App()
  first.get('/a', () => 'a')
  const bound = await first.listen({ host: '127.0.0.1', port: 0 })
  const second = new App()
  second.get('/a', () => 'a')
  await assert.rejects(second.listen({ host: '127.0.0.1', port: bound.port }), ServerError)
  await first.close()
})

test('the served contract has the code-first operations', () => {
  const app = new App({ title: 'pets' })
  app.delete('/pets/{id}', () => null)
  const document = app.openapi() as { info: { title: string }; paths: Record<string, Record<string, { operationId: string }>> }
  assert.equal(document.info.title, 'pets')
  assert.equal(document.paths['/pets/{id}']?.delete?.operationId, 'deletePetsById')
})

test('past server.queue_capacity a request is 503 overloaded, and a slow handler is 504', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'armature-'))
  const config = path.join(dir, 'armature.yaml')
  writeFileSync(config, 'server:\n  queue_capacity: 1\n  request_timeout_ms: 500\n')
  const app = new App({ config })
  app.get('/now', () => 'now')
  app.get('/never', () => new Promise(() => {}))
  app.ready()
  const answers = [1, 2, 3].map(() => app.inject({ url: '/now' }))
  // Holds the main thread, so no drain runs while core queues the three requests.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
  const statuses = (await Promise.all(answers)).map((answer) => answer.statusCode).sort()
  assert.deepEqual(statuses, [200, 503, 503])
  const late = await app.inject({ url: '/never' })
  assert.equal(late.statusCode, 504)
  assert.match(late.json<{ type: string }>().type, /handler-timeout/)
})
