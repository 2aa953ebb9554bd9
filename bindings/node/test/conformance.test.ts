/**
 * Every case of conformance/cases, run by the shared Rust runner against the TypeScript
 * conformance app: through `app.inject` (inject_transport.ts) and over real HTTP (the app
 * listening in a child process). BUILD_PROFILE picks the runner's build (ci/lib.sh).
 */

import { strict as assert } from 'node:assert'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import * as path from 'node:path'
import { test } from 'node:test'

const ROOT = path.resolve(__dirname, '../../../..')
const RUNNER = path.join(ROOT, 'target', process.env.BUILD_PROFILE ?? 'release', 'armature-conformance')
const HERE = __dirname
// The HMAC key of the conformance JWTs, as ci/serve exports it (conformance/config.yaml).
const ENV = {
  ...process.env,
  CONFORMANCE_JWT_SECRET: readFileSync(path.join(ROOT, 'conformance/credentials/hs.secret'), 'utf8').trim(),
}

function run(args: string[]): void {
  const result = spawnSync(RUNNER, args, { cwd: ROOT, env: ENV, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  assert.equal(result.error, undefined, `cannot run ${RUNNER}: ${String(result.error)}`)
  const failures = result.stdout.split('\n').filter((line) => !line.startsWith('ok '))
  assert.equal(result.status, 0, failures.join('\n'))
}

test('every conformance case through app.inject', () => {
  // The transport's stdout carries its answer lines only: the core's log lines, written to the
  // same descriptor by other threads, could otherwise land inside a large answer line.
  const transport = `ARMATURE_TELEMETRY__ACCESS_LOG__TARGET=stderr node ${path.join(HERE, 'inject_transport.js')}`
  run(['--transport-command', transport])
})

test('every conformance case over HTTP, then SIGTERM exits 0', async () => {
  // Port 0: the kernel picks a free port, which the app prints once it listens.
  const child = spawn(process.execPath, [path.join(HERE, 'conformance_app.js')], {
    cwd: ROOT,
    env: { ...ENV, ARMATURE_SERVER__PORT: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  try {
    let url: string | undefined
    for (let i = 0; url === undefined; i++) {
      assert.ok(i < 200 && child.exitCode === null, `the service did not start: ${stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
      url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1]
    }
    run(['--base-url', url])
  } finally {
    child.kill('SIGTERM')
  }
  assert.equal(await exited, 0, stderr)
})
