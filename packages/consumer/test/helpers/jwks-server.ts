import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

interface TestContext {
  teardown(fn: () => unknown): void
}

/** A real JWKS endpoint on 127.0.0.1: serves `document` with `max-age`, counts fetches, misbehaves on demand. */
export interface JwksServer {
  url: URL
  document: unknown
  maxAge: number
  fetches: number
  /** Replaces the normal answer, to simulate a misbehaving endpoint. */
  handler: ((request: IncomingMessage, response: ServerResponse) => void) | null
}

export async function startJwksServer (t: TestContext, document: unknown = { keys: [] }): Promise<JwksServer> {
  const state: JwksServer = { url: new URL('http://127.0.0.1/'), document, maxAge: 600, fetches: 0, handler: null }
  const server = createServer((request, response) => {
    state.fetches++
    if (state.handler !== null) return state.handler(request, response)
    response.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': `public, max-age=${state.maxAge}` })
    response.end(JSON.stringify(state.document))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  state.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`)
  return state
}
