import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { calculateJwkThumbprint, type JWK } from 'jose'

// A sender's key endpoint written by hand, for tokens that other libraries sign: a plain node:http server on
// loopback serving exactly the keys given, as docs/protocol.md §3 describes (not a test file: tap runs only
// *.test.ts).

interface TestContext { teardown(fn: () => unknown): void }

/** A published key: the public members given, its RFC 7638 thumbprint as `kid`, its `alg`, `use: 'sig'`. */
export type PublishedKey = JWK & { kid: string, alg: string }

export async function publishedKey (publicJwk: JWK, alg: string): Promise<PublishedKey> {
  return { ...publicJwk, kid: await calculateJwkThumbprint(publicJwk, 'sha256'), alg, use: 'sig' }
}

/** Serves `{ keys }` on 127.0.0.1 until the test ends; returns the JWKS URL. */
export async function serveJwks (t: TestContext, keys: PublishedKey[]): Promise<URL> {
  const body = JSON.stringify({ keys })
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=600' })
    response.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`)
}
