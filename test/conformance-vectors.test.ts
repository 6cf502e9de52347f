import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import consumer, { explainWebhook, webhookPressureHandler, type VerifiedWebhook } from '@webhook-jwt/consumer'
import { PROBLEM_CONTENT_TYPE, RECEIVER_ERRORS, type ReceiverErrorCode } from '@webhook-jwt/protocol'
import { VECTORS_PATH, buildVectors, protocolVersion, vectorsText } from '../docs/conformance/generate.ts'
import type { ExpectedAnswer, VectorCase, VectorRequest } from '../docs/conformance/vector-format.ts'
import { answerOf, clockAt, consumerOptions, serveKeySets, vectors } from './support/conformance.ts'

// docs/conformance/vectors.json: that the checked-in file is what its generator builds, that it covers the
// receiver's whole table, and that @webhook-jwt/consumer gives every answer it expects, both through
// explainWebhook and as a Fastify app over real HTTP on loopback, its key sets served by a real JWKS endpoint.

const jtiOf = (token: string): unknown => (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { jti?: unknown }).jti

t.test('regenerating the vectors from the fixed keys gives the checked-in file, byte for byte', async (t) => {
  const built = await buildVectors()
  const text = vectorsText(built)
  const checkedIn = readFileSync(VECTORS_PATH, 'utf8')
  const changed = built.cases.filter((vector, index) => JSON.stringify(vector) !== JSON.stringify(vectors.cases[index])).map((vector) => vector.id)
  const differs = changed.length > 0 ? `; the cases that differ: ${changed.join(', ')}` : ''
  t.ok(text === checkedIn, `vectors.json is what generate.ts builds (if not, run pnpm conformance:generate and commit it)${differs}`)
  t.equal(vectors.protocolVersion, protocolVersion(), 'the vectors carry the version docs/protocol.md declares')
})

t.test('the vectors are many, distinct, and cover every code of the receiver\'s table', async (t) => {
  t.ok(vectors.cases.length >= 80, `${vectors.cases.length} cases`)
  t.equal(new Set(vectors.cases.map((vector) => vector.id)).size, vectors.cases.length, 'every case id is unique')
  t.ok(vectors.cases.every((vector) => vector.requests.length > 0), 'every case sends at least one request')
  const codes = new Set(vectors.cases.flatMap((vector) => vector.requests.map((request) => (request.expect as { code?: ReceiverErrorCode }).code)))
  // Vectors are POST deliveries (format version 1); a body on GET/HEAD/TRACE is the one answer no POST can draw,
  // and is covered by the consumer's request-input test until the format gains a method.
  const notInFormat = new Set(['WEBHOOK_BODY_NOT_ALLOWED'])
  for (const code of Object.keys(RECEIVER_ERRORS).filter((name) => !notInFormat.has(name))) t.ok(codes.has(code as ReceiverErrorCode), `some vector expects ${code}`)
  const answers = vectors.cases.flatMap((vector) => vector.requests.map((request) => request.expect))
  t.ok(answers.some((answer) => 'claims' in answer), 'some vectors are accepted')
  t.ok(answers.some((answer) => 'duplicate' in answer), 'some vector is a duplicate')
  for (const alg of ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']) {
    t.ok(vectors.cases.some((vector) => vector.id.startsWith('accepted/') && vector.requests.some((request) => request.token?.startsWith(Buffer.from(`{"alg":"${alg}"`).toString('base64url').slice(0, 12)))), `an accepted ${alg} token`)
  }
})

t.test('the coverage table of docs/conformance/README.md is the file\'s', async (t) => {
  const readme = readFileSync(new URL('../docs/conformance/README.md', import.meta.url), 'utf8')
  const table = (/<!-- coverage -->\n([\s\S]*?)<!-- \/coverage -->/.exec(readme) as RegExpExecArray)[1] as string
  const listed = Object.fromEntries([...table.matchAll(/^\| `?([^`|]+?)`? \| (\d+) \|$/gm)].map(([, answer, count]) => [answer, Number(count)]))
  const counted: Record<string, number> = {}
  for (const { expect } of vectors.cases.flatMap((vector) => vector.requests)) {
    const answer = 'code' in expect ? expect.code : 'duplicate' in expect ? '200 duplicate' : '200 accepted'
    counted[answer] = (counted[answer] ?? 0) + 1
  }
  t.same(listed, counted, 'requests by expected answer')
  t.match(readme, `**${vectors.cases.length} cases (${vectors.cases.reduce((sum, vector) => sum + vector.requests.length, 0)} requests)**`)
  t.match(readme, `**version ${vectors.protocolVersion}**`)
})

t.test('explainWebhook answers every request with a token as a fresh receiver would', async (t) => {
  const jwksUrlFor = await serveKeySets(t)
  let explained = 0
  for (const vector of vectors.cases) {
    for (const [index, request] of vector.requests.entries()) {
      const expected = request.expectFresh ?? request.expect
      if (request.token === null) {
        // explainWebhook takes a token, not headers: these are the header cases, checked over HTTP below.
        t.ok(['WEBHOOK_TOKEN_MISSING', 'WEBHOOK_TOKEN_MALFORMED'].includes((expected as { code: string }).code), `${vector.id}: a request with no token to take is refused for its header`)
        continue
      }
      const { verdict, header, claims } = await explainWebhook({ token: request.token, body: Buffer.from(request.body, 'base64') }, consumerOptions(vector, jwksUrlFor(vector.keySet), clockAt(vectors.now)))
      const answer: ExpectedAnswer = verdict.status === 200
        ? { status: 200, kid: header?.kid as string, claims: claims as Record<string, unknown> }
        : { status: verdict.status, code: verdict.code as ReceiverErrorCode }
      t.same(answer, expected, `${vector.id} #${index + 1}`)
      if (verdict.status === 503) t.ok((verdict.retryAfter as number) >= 1, `${vector.id}: a retry delay`)
      explained++
    }
  }
  t.ok(explained > 150, `${explained} requests explained`)
})

/** What the app answered to one request, with the headers the protocol requires of its answers checked. */
async function post (t: Test, url: URL, vector: VectorCase, request: VectorRequest): Promise<ExpectedAnswer> {
  const response = await fetch(url, { method: request.method, headers: request.headers, body: Buffer.from(request.body, 'base64') })
  const body = await response.json() as Record<string, unknown>
  if (response.status === 401) t.match(response.headers.get('www-authenticate'), /^Bearer error="invalid_token"/, `${vector.id}: WWW-Authenticate on a 401`)
  if (response.status === 503) t.match(response.headers.get('retry-after'), /^[1-9]\d*$/, `${vector.id}: Retry-After on a 503`)
  if (response.status !== 200) t.equal(response.headers.get('content-type'), PROBLEM_CONTENT_TYPE, `${vector.id}: problem details`)
  return answerOf(response.status, body)
}

/**
 * One case on a fresh Fastify app: it starts a minute before the vectors' clock (so its warm-up fetch is old
 * enough that a refetch is allowed when the requests come), then the clock moves to `now` and stays there.
 */
async function runCase (t: Test, vector: VectorCase, jwksUrl: URL): Promise<void> {
  const clock = clockAt(vectors.now - 60)
  const app = Fastify()
  try {
    const options = consumerOptions(vector, jwksUrl, clock)
    if (vector.replayStore === 'down') options.replayStore = { remember: () => { throw new Error('the replay store is down') } }
    await app.register(consumer, options)
    if (vector.load === 'shedding') {
      const shed = webhookPressureHandler()
      app.addHook('onRequest', async (request, reply) => {
        await shed(request, reply)
        return reply
      })
    }
    // The receiver hashes bytes, whatever they are: every body reaches the handler as a Buffer.
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })
    const held = new Map<unknown, { entered: () => void, release: Promise<void> }>()
    app.post('/hooks', { preHandler: app.verifyWebhook }, async (request) => {
      const webhook = request.webhook as VerifiedWebhook
      const hold = held.get(webhook.claims.jti)
      hold?.entered()
      await hold?.release
      return { id: webhook.id, kid: webhook.kid, claims: webhook.claims }
    })
    const url = new URL('/hooks', await app.listen({ port: 0, host: '127.0.0.1' }))
    clock.advance(60_000)
    for (let index = 0; index < vector.requests.length; index++) {
      const request = vector.requests[index] as VectorRequest
      if (request.hold === undefined) {
        t.same(await post(t, url, vector, request), request.expect, `${vector.id} #${index + 1}`)
        continue
      }
      let release = (): void => {}
      let entered = (): void => {}
      const inHandler = new Promise<void>((resolve) => { entered = resolve })
      held.set(jtiOf(request.token as string), { entered, release: new Promise((resolve) => { release = resolve }) })
      const answered = post(t, url, vector, request)
      await Promise.race([inHandler, answered])
      const next = vector.requests[index + 1] as VectorRequest
      t.same(await post(t, url, vector, next), next.expect, `${vector.id} #${index + 2}, while #${index + 1} is being handled`)
      release()
      t.same(await answered, request.expect, `${vector.id} #${index + 1}`)
      index++
    }
  } finally {
    await app.close()
  }
}

t.test('a Fastify app with @webhook-jwt/consumer gives every vector\'s answer over HTTP', async (t) => {
  const jwksUrlFor = await serveKeySets(t)
  const queue = [...vectors.cases]
  // A few cases at a time, each on its own app: they share nothing but the key-set endpoint.
  await Promise.all(Array.from({ length: 6 }, async () => {
    for (let vector = queue.shift(); vector !== undefined; vector = queue.shift()) await runCase(t, vector, jwksUrlFor(vector.keySet))
  }))
})
