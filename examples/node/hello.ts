/**
 * The Node quick start: a service declared in code, with a validated JSON body.
 *
 *     bash ci/node-env                                    # npm ci, the addon, tsc
 *     node bindings/node/dist-test/examples/node/hello.js # this file, compiled, on port 8080
 *     curl localhost:8080/hello/ada
 *     curl -X POST localhost:8080/greetings -H 'content-type: application/json' -d '{"name": "Ada", "times": 2}'
 *     curl localhost:8080/openapi.json
 *
 * Every request goes through the whole pipeline: request id, trace context, validation of the
 * body against the schema declared here, problem responses, telemetry.
 */

import { App, HttpError } from '@armature/core'

/** What POST /greetings accepts; core refuses anything else with a 400 problem before the handler runs. */
const greeting = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    times: { type: 'integer', minimum: 1, maximum: 5, default: 1 },
  },
}

/** What POST /greetings answers; core checks the handler's answer against it. */
const greeted = {
  type: 'object',
  required: ['text'],
  properties: { text: { type: 'string' } },
}

/** The service, without listening: the test runs it through `app.inject`. */
export function helloApp(): App {
  const app = new App({ title: 'hello', version: '1.0.0' })
  app.get('/hello/{name}', (req) => ({ hello: req.params.path.name }))
  app.post('/greetings', { body: greeting, response: { 201: greeted }, status: 201 }, async (req) => {
    const { name, times = 1 } = req.json<{ name: string; times?: number }>()
    if (name === 'nobody') throw new HttpError(422, 'nobody cannot be greeted')
    return { text: Array(times).fill(`Hello, ${name}!`).join(' ') }
  })
  return app
}

if (require.main === module) {
  helloApp()
    .listen({ port: Number(process.env.PORT ?? 8080) }) // PORT: ci/test-release picks a free one
    .then((address) => console.log(`listening on ${address.url}`))
}
