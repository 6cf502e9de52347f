import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { JWK } from 'jose'

export const JWKS_PATH = '/.well-known/jwks.json'

/** The sender's key set server: a static document on loopback, as a producer would serve it. */
export interface JwksServer {
  /** The server's origin, which is also the `iss` of every token (get-jwks finds the key set from `iss`). */
  origin: string
  jwksUrl: string
  /** How many times the key set was fetched. */
  fetches(): number
  close(): Promise<void>
}

/**
 * Serves `keys` from the harness process. Each contender fetches the set once at start (and get-jwks again
 * when its 60 s cache lapses), so the harness's own load does not weigh on it.
 */
export async function startJwksServer (keys: readonly JWK[]): Promise<JwksServer> {
  const body = JSON.stringify({ keys })
  let fetches = 0
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== JWKS_PATH) {
      response.writeHead(404).end()
      return
    }
    fetches++
    response.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=600' }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    jwksUrl: `${origin}${JWKS_PATH}`,
    fetches: () => fetches,
    close: async () => await new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  }
}
