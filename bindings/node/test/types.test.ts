/**
 * The types a code-first route's handler gets, inferred from its schemas. Compiled with
 * `tsc --strict` by ci/node-env: each `@ts-expect-error` line must be an error, or the build
 * fails (a wrong use that compiles is the bug these lines catch). The test then runs the routes.
 */

import { strict as assert } from 'node:assert'
import { test } from 'node:test'

import { App } from '@armature/core'

test('route handlers read parameters and bodies typed by their schemas', async () => {
  const app = new App()
  app.get(
    '/users/{id}',
    {
      params: { id: { type: 'integer' } },
      query: { verbose: { type: 'boolean' }, limit: { type: 'integer', default: 10 } },
    },
    (req) => {
      const id: number = req.params.path.id
      // @ts-expect-error: id is a number, not a string
      const asText: string = req.params.path.id
      const limit: number = req.params.query.limit
      // @ts-expect-error: verbose is optional, so it may be undefined
      const verbose: boolean = req.params.query.verbose
      // @ts-expect-error: the route declares no such query parameter
      void req.params.query.other
      return { id, limit, verbose: verbose ?? false, asText: typeof asText }
    },
  )
  app.get('/files/{name}', (req) => {
    const name: string = req.params.path.name
    // @ts-expect-error: the path has no {other} parameter
    void req.params.path.other
    return name
  })
  app.post(
    '/users',
    {
      body: {
        type: 'object',
        properties: { name: { type: 'string' }, age: { type: 'integer' }, role: { enum: ['admin', 'user'] } },
        required: ['name'],
        additionalProperties: false,
      },
      status: 201,
    },
    (req) => {
      const user = req.json()
      const name: string = user.name
      const age: number | undefined = user.age
      const role: 'admin' | 'user' | undefined = user.role
      // @ts-expect-error: age may be absent
      const sure: number = user.age
      // @ts-expect-error: the schema allows no other property
      void user.email
      return { name, age: age ?? null, role: role ?? null, sure: sure ?? null }
    },
  )
  app.get('/notes/{owner}/{noteId}', { params: { noteId: { type: ['integer', 'null'] } } }, (req) => {
    const owner: string = req.params.path.owner
    const noteId: number | null = req.params.path.noteId
    return { owner, noteId }
  })

  const user = await app.inject({ url: '/users/7?limit=3' })
  assert.equal(user.statusCode, 200, user.body)
  assert.deepEqual(user.json(), { id: 7, limit: 3, verbose: false, asText: 'number' })
  const created = await app.inject({ method: 'POST', url: '/users', body: { name: 'ada', role: 'admin' } })
  assert.equal(created.statusCode, 201, created.body)
  assert.deepEqual(created.json(), { name: 'ada', age: null, role: 'admin', sure: null })
  assert.equal((await app.inject({ url: '/files/a.txt' })).body, 'a.txt')
})
