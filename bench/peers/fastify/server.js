// Benchmark peer for ci/bench: the benchmark's endpoints written the idiomatic Fastify 5 way,
// with JSON schemas on the routes so Fastify validates requests (Ajv) and serializes responses
// (fast-json-stringify) as its users have it do.
//
// Answers on 127.0.0.1:$PORT (default 8080), HTTP/1.1:
//   GET  /plaintext   200 text/plain        Hello, World!
//   GET  /json        200 application/json  {"message":"Hello, World!"}
//   GET  /users/:id   200 application/json  the user with that id (integer >= 1, else 400)
//   POST /users       201 application/json  the body with "id":1 added, password dropped (invalid body: 400)
//   GET  /ready       200 application/json  {"status":"ready"} (polled by ci/bench), /health alike
//
// Install: npm ci   Start: PORT=8080 node server.js
'use strict';

const fastify = require('fastify')({ logger: false });

// The user as answered: never the password (the response schema drops any other field).
const userResponse = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    email: { type: 'string' },
    age: { type: 'integer' },
  },
};

const statusResponse = {
  type: 'object',
  properties: { status: { type: 'string' } },
};

fastify.get('/plaintext', async (request, reply) => {
  reply.type('text/plain');
  return 'Hello, World!';
});

fastify.get(
  '/json',
  {
    schema: {
      response: {
        200: { type: 'object', properties: { message: { type: 'string' } } },
      },
    },
  },
  async () => ({ message: 'Hello, World!' }),
);

fastify.get(
  '/users/:id',
  {
    schema: {
      params: {
        type: 'object',
        properties: { id: { type: 'integer', minimum: 1 } },
        required: ['id'],
      },
      response: { 200: userResponse },
    },
  },
  // request.params.id is already an integer: Ajv coerces path parameters.
  async (request) => ({
    id: request.params.id,
    name: 'Alice',
    email: 'alice@example.com',
    age: 30,
  }),
);

fastify.post(
  '/users',
  {
    schema: {
      body: {
        type: 'object',
        required: ['name', 'email'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 100 },
          email: { type: 'string', format: 'email' },
          age: { type: 'integer', minimum: 0, maximum: 150 },
          password: { type: 'string' },
        },
        additionalProperties: false,
      },
      response: { 201: userResponse },
    },
  },
  async (request, reply) => {
    // The response schema leaves the password out of the answer.
    reply.code(201);
    return { id: 1, ...request.body };
  },
);

const ready = { schema: { response: { 200: statusResponse } } };
fastify.get('/ready', ready, async () => ({ status: 'ready' }));
fastify.get('/health', ready, async () => ({ status: 'ready' }));

const port = Number(process.env.PORT || 8080);
fastify.listen({ host: '127.0.0.1', port }).catch((err) => {
  console.error(err);
  process.exit(1);
});
