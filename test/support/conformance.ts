import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { WebhookConsumerOptions } from '@webhook-jwt/consumer'
import { createManualClock, type ManualClock } from '@webhook-jwt/protocol'
import { VECTORS_PATH } from '../../docs/conformance/generate.ts'
import type { ConformanceVectors, ExpectedAnswer, VectorCase } from '../../docs/conformance/vector-format.ts'

// The checked-in conformance vectors, and what a test needs to serve them: the key sets on a real loopback
// JWKS endpoint, and a case's receiver settings as @webhook-jwt/consumer options (not a test file: tap runs
// only *.test.ts).

interface TestContext { teardown(fn: () => unknown): void }

export const vectors = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as ConformanceVectors

/** Serves each key set of the vectors at `/<name>`, as vectors.json says; any other path answers 503 (down). */
export async function serveKeySets (t: TestContext): Promise<(keySet: string | null) => URL> {
  const server = createServer((request, response) => {
    const name = decodeURIComponent((request.url as string).slice(1))
    if (!Object.hasOwn(vectors.keySets, name)) {
      response.writeHead(503, { 'retry-after': '30' })
      response.end()
      return
    }
    response.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': vectors.keySetCacheControl })
    response.end(JSON.stringify(vectors.keySets[name]))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return (keySet) => new URL(`/${keySet ?? 'endpoint-down'}`, origin)
}

/** A clock stopped at `atSec` (seconds). */
export function clockAt (atSec: number): ManualClock {
  return createManualClock(atSec * 1000)
}

/** The consumer's options for a case's receiver, fetching its key set from `jwksUrl`. */
export function consumerOptions (vector: VectorCase, jwksUrl: URL, clock: ManualClock): WebhookConsumerOptions {
  const { receiver } = vector
  return {
    issuer: receiver.issuer,
    jwksUrl,
    audience: receiver.audience,
    algorithms: receiver.algorithms,
    clockTolerance: receiver.clockTolerance,
    maxTokenAge: receiver.maxTokenAge,
    maxTokenBytes: receiver.maxTokenBytes,
    header: receiver.header,
    deduplicate: receiver.deduplicate,
    jwks: { cooldown: receiver.jwksCooldown },
    clock
  }
}

/** What a receiver answered, in the vectors' terms, for comparing with `expect`. */
export function answerOf (status: number, body: Record<string, unknown>): ExpectedAnswer {
  if (status === 200) return body.duplicate === true ? { status: 200, duplicate: true } : { status: 200, kid: body.kid as string, claims: body.claims as Record<string, unknown> }
  return { status: status as 401 | 503, code: body.code as never }
}
