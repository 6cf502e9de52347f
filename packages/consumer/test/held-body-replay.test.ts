import t from 'tap'
import Fastify from 'fastify'
import { createManualClock } from '@webhook-jwt/protocol'
import consumer, { memoryReplayStore } from '@webhook-jwt/consumer'
import { openExchange, requestHead } from '../../../test/support/raw-http.ts'
import { heldBodyAttack } from './helpers/held-body-attack.ts'
import { startJwksServer } from './helpers/jwks-server.ts'
import { AUDIENCE, BODY, ISSUER, testKey, tokenFor } from './helpers/token-factory.ts'

// Issue 15, finding 1, over raw sockets: a token whose body is held past its exp was accepted twice, the
// memory store having been asked to keep its id until a time already past. The same attack on
// redisReplayStore is in test/redis-held-body.test.ts.

t.test('issue 15: three connections hold the body of one token past exp + clockTolerance: one is handled, the replay and the late body are refused (memory store)', async (t) => {
  const clock = createManualClock(Date.now())
  const { answers, handled } = await heldBodyAttack(t, undefined, clock)
  t.same(answers.map((answer) => [answer.status, answer.code]), [[200, undefined], [401, 'WEBHOOK_REPLAYED'], [401, 'WEBHOOK_TOKEN_EXPIRED']])
  t.equal(handled, 1, 'the handler ran once for the token')
  t.match(answers[2]?.headers, { 'www-authenticate': /error="invalid_token"/, 'content-type': 'application/problem+json' })
})

t.test('memoryReplayStore: an id already expired when it comes is refused and not recorded', async (t) => {
  const store = memoryReplayStore()
  t.equal(store.remember('late', 1000, 1000), false, 'expiring at the instant it would be recorded')
  t.equal(store.remember('late', 999, 1000), false, 'expired before')
  t.equal(store.remember('late', 1001, 1000), true, 'it was not recorded: while live, it is new')
  t.equal(store.remember('late', 1001, 1000), false, 'and then kept')
  t.equal(store.remember('late', 5000, 1000.5), false, 'until its expiry, whatever later calls bring')
})

t.test('the body deadline the README recommends, scaled down: a held request gets 408 at its deadline and never reaches the handler', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  // The README's 30 s / 10 s / 5 s, as 1 s / 0.5 s / 0.1 s.
  const app = Fastify({ requestTimeout: 1000, http: { headersTimeout: 500, connectionsCheckingInterval: 100 } })
  t.teardown(() => app.close())
  await app.register(consumer, { issuer: ISSUER, jwksUrl: server.url, audience: AUDIENCE })
  let handled = 0
  app.post('/hooks', { config: { webhook: true } }, async () => {
    handled++
    return { ok: true }
  })
  const port = Number(new URL(await app.listen({ port: 0, host: '127.0.0.1' })).port)
  const head = requestHead('POST', '/hooks', { authorization: `Bearer ${tokenFor(key)}`, 'content-type': 'application/json', 'content-length': BODY.length })
  const answer = await openExchange(port, head + BODY.slice(0, 5)).answer
  t.equal(answer.status, 408)
  t.equal(handled, 0)
})
