/**
 * The conformance app behind `app.inject`, as a process transport of the shared runner
 * (`armature-conformance --transport-command`, protocol in
 * conformance/runner/src/process_transport.rs): one JSON request per stdin line, one
 * `armature-response {...}` line per answer on stdout.
 */

import * as readline from 'node:readline'

import { conformanceApp } from './conformance_app'

interface WireRequest {
  method: string
  target: string
  headers: [string, string][]
  body: string
}

async function main(): Promise<void> {
  const app = conformanceApp()
  for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    const request = JSON.parse(line) as WireRequest
    const headers: Record<string, string[]> = {}
    for (const [name, value] of request.headers) (headers[name] ??= []).push(value)
    const response = await app.inject({
      method: request.method,
      url: request.target,
      headers,
      body: Buffer.from(request.body, 'base64'),
    })
    const answer = {
      status: response.statusCode,
      headers: Object.entries(response.headers),
      body: response.rawBody.toString('base64'),
    }
    process.stdout.write(`armature-response ${JSON.stringify(answer)}\n`)
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
