/**
 * Testing the quick start in-process: `app.inject` sends each request through the whole
 * pipeline, as a socket would, without one.
 *
 *     bash ci/node-env && node --test bindings/node/dist-test/examples/node/
 */

import { strict as assert } from 'node:assert'
import { test } from 'node:test'

import { helloApp } from './hello'

test('GET /hello/{name} greets by name', async () => {
  const response = await helloApp().inject({ url: '/hello/ada' })
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), { hello: 'ada' })
})

test('POST /greetings repeats the greeting', async () => {
  const response = await helloApp().inject({ method: 'POST', url: '/greetings', body: { name: 'Ada', times: 2 } })
  assert.equal(response.statusCode, 201)
  assert.deepEqual(response.json(), { text: 'Hello, Ada! Hello, Ada!' })
})

test('core refuses a body outside the schema before the handler runs', async () => {
  const response = await helloApp().inject({ method: 'POST', url: '/greetings', body: { name: 'Ada', times: 9 } })
  assert.equal(response.statusCode, 400)
  assert.equal(response.headers['content-type'], 'application/problem+json')
})

test('an HttpError is the refused problem', async () => {
  const response = await helloApp().inject({ method: 'POST', url: '/greetings', body: { name: 'nobody' } })
  assert.equal(response.statusCode, 422)
  assert.equal(response.json<{ detail: string }>().detail, 'nobody cannot be greeted')
})
