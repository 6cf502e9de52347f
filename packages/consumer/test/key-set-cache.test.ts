import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createManualClock } from '@webhook-jwt/protocol'
import { FIRST_FETCH_BACKOFF_MS } from '@webhook-jwt/consumer'
import { buildConsumer, deliver } from './helpers/consumer-app.ts'
import { startJwksServer } from './helpers/jwks-server.ts'
import { testKey, tokenFor } from './helpers/token-factory.ts'

const settle = async (ms = 20): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

t.test('a kid published after the set was cached is accepted after one refetch, once the cooldown allows', async (t) => {
  const clock = createManualClock(Date.now())
  const [first, second] = [await testKey(), await testKey()]
  const server = await startJwksServer(t, { keys: [first.publicJwk] })
  const { app, fetches } = await buildConsumer(t, server.url, { clock, jwks: { cooldown: 30 } })
  server.document = { keys: [first.publicJwk, second.publicJwk] }
  const early = await deliver(app, tokenFor(second, { nowSec: clock.now() / 1000 }))
  t.equal(early.statusCode, 503, 'inside the cooldown: retry later')
  t.equal(early.headers['retry-after'], '30')
  t.equal(server.fetches, 1)
  t.match(fetches.at(-1), { reason: 'unknown-kid', outcome: 'cooldown' })
  clock.advance(30_000)
  const accepted = await deliver(app, tokenFor(second, { nowSec: clock.now() / 1000 }))
  t.equal(accepted.statusCode, 200, accepted.body)
  t.equal(server.fetches, 2, 'one refetch')
  t.match(fetches.at(-1), { reason: 'unknown-kid', outcome: 'fetched', kids: [first.kid, second.kid] })
})

t.test('a kid still unknown after the refetch is 401 WEBHOOK_KEY_UNKNOWN', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app } = await buildConsumer(t, server.url, { jwks: { cooldown: 0 } })
  const response = await deliver(app, tokenFor(await testKey()))
  t.equal(response.statusCode, 401)
  t.equal(response.json().code, 'WEBHOOK_KEY_UNKNOWN')
  t.equal(server.fetches, 2)
})

t.test('kid spraying causes at most one fetch per cooldown', async (t) => {
  const clock = createManualClock(Date.now())
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app } = await buildConsumer(t, server.url, { clock, jwks: { cooldown: 30 } })
  const spray = async (): Promise<number[]> => await Promise.all(Array.from({ length: 100 }, async () =>
    (await deliver(app, tokenFor(key, { header: { kid: randomBytes(16).toString('base64url') }, nowSec: clock.now() / 1000 }))).statusCode))
  t.same(new Set(await spray()), new Set([503]))
  t.equal(server.fetches, 1, 'no fetch inside the cooldown')
  clock.advance(30_000)
  const statuses = await spray()
  t.equal(server.fetches, 2, 'one fetch for a hundred unknown kids after the cooldown')
  t.same(new Set(statuses), new Set([401]), 'all joined that fetch, and learnt the kids are not published')
  t.equal((await deliver(app, tokenFor(key, { nowSec: clock.now() / 1000 }))).statusCode, 200, 'the real key still verifies')
})

t.test('50 concurrent requests on a cold cache cause one fetch', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  server.handler = (_request, response) => { response.writeHead(500).end() }
  const { app } = await buildConsumer(t, server.url, { jwks: { cooldown: 0 } })
  t.equal(server.fetches, 1, 'the warm-up fetch failed')
  server.handler = (_request, response) => {
    setTimeout(() => response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }).end(JSON.stringify({ keys: [key.publicJwk] })), 100)
  }
  const statuses = await Promise.all(Array.from({ length: 50 }, async () => (await deliver(app, tokenFor(key))).statusCode))
  t.same(new Set(statuses), new Set([200]))
  t.equal(server.fetches, 2, 'one fetch served all fifty')
})

t.test('Cache-Control max-age is honoured within jwks.cacheMaxAge, minus Age, with a floor', async (t) => {
  const key = await testKey()
  const cases: Array<[string, string, Record<string, string>, number]> = [
    ['a shorter max-age wins', 'max-age=5', {}, 5000],
    ['cacheMaxAge caps a longer one', 'max-age=100000', {}, 600_000],
    ['Age is subtracted', 'public, max-age=60', { age: '50' }, 10_000],
    ['an Age that is not a number is ignored', 'max-age=60', { age: 'soon' }, 60_000],
    ['a negative Age is ignored', 'max-age=10', { age: '-100000' }, 10_000],
    ['no-store still keeps the set a second', 'no-store', {}, 1000],
    ['max-age=0 likewise', 'max-age=0', {}, 1000],
    ['no Cache-Control: cacheMaxAge', '', {}, 600_000]
  ]
  for (const [name, cacheControl, headers, lifetimeMs] of cases) {
    const clock = createManualClock(Date.now())
    const server = await startJwksServer(t, { keys: [key.publicJwk] })
    server.handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/jwk-set+json; charset=utf-8', ...(cacheControl === '' ? {} : { 'cache-control': cacheControl }), ...headers })
      response.end(JSON.stringify({ keys: [key.publicJwk] }))
    }
    const { app } = await buildConsumer(t, server.url, { clock })
    const [status] = app.webhookConsumer.status()
    t.equal((status?.expiresAt as Date).getTime() - clock.now(), lifetimeMs, name)
    clock.advance(lifetimeMs)
    t.equal((await deliver(app, tokenFor(key, { nowSec: clock.now() / 1000 }))).statusCode, 200)
    t.equal(server.fetches, 2, `${name}: refetched on expiry`)
    await app.close()
  }
})

t.test('a refresh starts in the background before the set expires; requests do not wait for it', async (t) => {
  const clock = createManualClock(Date.now())
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  server.maxAge = 100
  const { app, fetches } = await buildConsumer(t, server.url, { clock })
  clock.advance(79_000)
  t.equal((await deliver(app, tokenFor(key, { nowSec: clock.now() / 1000 }))).statusCode, 200)
  t.equal(server.fetches, 1, 'not yet')
  clock.advance(1000)
  let release: (() => void) | undefined
  server.handler = (_request, response) => {
    release = () => response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=100' }).end(JSON.stringify({ keys: [key.publicJwk] }))
  }
  t.equal((await deliver(app, tokenFor(key, { nowSec: clock.now() / 1000 }))).statusCode, 200, 'answered while the refresh is still pending')
  await settle()
  t.equal(server.fetches, 2)
  release?.()
  await settle(50)
  t.match(fetches.at(-1), { reason: 'refresh-ahead', outcome: 'fetched' })
  t.equal((app.webhookConsumer.status()[0]?.expiresAt as Date).getTime(), clock.now() + 100_000)
})

t.test('through an outage: known kids verify up to maxStale, then the set is unusable and the app unhealthy', async (t) => {
  const clock = createManualClock(Date.now())
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  server.maxAge = 60
  const { app, fetches } = await buildConsumer(t, server.url, { clock, jwks: { maxStale: 600, cooldown: 30 } })
  server.handler = (_request, response) => { response.writeHead(503).end() }
  clock.advance(60_000)
  t.equal((await deliver(app, tokenFor(key, { nowSec: clock.now() / 1000 }))).statusCode, 200, 'stale but usable')
  t.match(fetches.at(-1), { reason: 'expired', outcome: 'failed', status: 503, stale: true })
  const fetchesAfterFailure = server.fetches
  t.equal((await deliver(app, tokenFor(key, { nowSec: clock.now() / 1000 }))).statusCode, 200)
  t.equal(server.fetches, fetchesAfterFailure, 'no new attempt inside the cooldown: an outage does not add a fetch to every request')
  t.ok(app.webhookConsumer.healthy())
  clock.advance(600_000)
  const refused = await deliver(app, tokenFor(key, { nowSec: clock.now() / 1000 }))
  t.equal(refused.statusCode, 503, 'past maxStale')
  t.equal(refused.json().code, 'WEBHOOK_KEY_UNAVAILABLE')
  t.notOk(app.webhookConsumer.healthy())
  t.match(app.webhookConsumer.status(), [{ usable: false, stale: false, fresh: false, lastError: 'the key set endpoint answered 503' }])
  server.handler = null
  clock.advance(30_000)
  t.equal((await deliver(app, tokenFor(key, { nowSec: clock.now() / 1000 }))).statusCode, 200, 'back once the endpoint is')
  t.ok(app.webhookConsumer.healthy())
})

t.test('a rotation during an outage: 503 with Retry-After for the new kid until the endpoint is back, never 401', async (t) => {
  const clock = createManualClock(Date.now())
  const [first, second] = [await testKey(), await testKey()]
  const server = await startJwksServer(t, { keys: [first.publicJwk] })
  const { app } = await buildConsumer(t, server.url, { clock, jwks: { cooldown: 10 } })
  server.handler = (request) => { request.socket.destroy() }
  for (let i = 0; i < 3; i++) {
    clock.advance(10_000)
    const response = await deliver(app, tokenFor(second, { nowSec: clock.now() / 1000 }))
    t.equal(response.statusCode, 503)
    t.ok(Number(response.headers['retry-after']) >= 1)
    t.equal((await deliver(app, tokenFor(first, { nowSec: clock.now() / 1000 }))).statusCode, 200, 'the known kid still verifies')
  }
  t.match(app.webhookConsumer.status(), [{ lastError: /cannot be reached/ }])
  server.handler = null
  server.document = { keys: [first.publicJwk, second.publicJwk] }
  clock.advance(10_000)
  t.equal((await deliver(app, tokenFor(second, { nowSec: clock.now() / 1000 }))).statusCode, 200)
})

t.test('however small cacheMaxAge is, a set is kept at least a second', async (t) => {
  const clock = createManualClock(Date.now())
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app } = await buildConsumer(t, server.url, { clock, jwks: { cacheMaxAge: 0 } })
  await Promise.all(Array.from({ length: 5 }, async () => await deliver(app, tokenFor(key, { nowSec: clock.now() / 1000 }))))
  t.equal(server.fetches, 1)
  t.equal((app.webhookConsumer.status()[0]?.expiresAt as Date).getTime() - clock.now(), 1000)
})

t.test('closing the app aborts a fetch under way', async (t) => {
  const clock = createManualClock(Date.now())
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  server.maxAge = 60
  const { app, fetches } = await buildConsumer(t, server.url, { clock, jwks: { timeout: 30 } })
  server.handler = () => {}
  clock.advance(60_000)
  const pending = deliver(app, tokenFor(key, { nowSec: clock.now() / 1000 }))
  while (server.fetches < 2) await settle(2)
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 5000, 'closed without waiting for the 30 s fetch deadline')
  t.equal((await pending).statusCode, 200, 'the request was answered from the last good set')
  t.match(fetches.at(-1), { outcome: 'failed', error: 'the app closed during the fetch' })
})

t.test('regression: with max-age shorter than the cooldown, an unknown kid still gets a final 401, not 503 for ever', async (t) => {
  const clock = createManualClock(Date.now())
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  server.maxAge = 1
  const { app } = await buildConsumer(t, server.url, { clock, jwks: { cooldown: 30 } })
  const stranger = await testKey()
  for (let i = 0; i < 3; i++) {
    clock.advance(1000)
    const response = await deliver(app, tokenFor(stranger, { nowSec: clock.now() / 1000 }))
    t.equal(response.json().code, 'WEBHOOK_KEY_UNKNOWN', 'the set this request fetched lacks the kid: final')
  }
  t.equal(server.fetches, 4, 'one fetch per expiry, none for the unknown kid itself')
})

t.test('regression: while traffic keeps the set fresh, an unknown kid signed before the set was generated is a final 401 inside the cooldown', async (t) => {
  const clock = createManualClock(Date.now())
  const nowSec = (): number => Math.floor(clock.now() / 1000)
  const [key, revoked] = [await testKey(), await testKey()]
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app, fetches } = await buildConsumer(t, server.url, { clock, clockTolerance: 5, jwks: { cooldown: 30 } })
  // Signed 10 s ago under a key the sender has since unpublished (revoked): more than iat + 1 s + the tolerance before the fetch.
  const captured = tokenFor(revoked, { nowSec: nowSec() - 10 })
  t.equal((await deliver(app, tokenFor(key, { nowSec: nowSec() }))).statusCode, 200)
  const late = await deliver(app, captured)
  t.equal(late.statusCode, 401)
  t.equal(late.json().code, 'WEBHOOK_KEY_UNKNOWN', 'final: the set was made after the token, and lacks its key')
  const fresh = await deliver(app, tokenFor(revoked, { nowSec: nowSec() }))
  t.equal(fresh.statusCode, 503, 'signed after the set was made: its key may be newer than the set, so retry later')
  t.equal(server.fetches, 1, 'neither answer cost a fetch inside the cooldown')
  t.match(fetches.at(-1), { reason: 'unknown-kid', outcome: 'cooldown' })
})

t.test('a set a cache held (Age) counts from when it was generated, not when it was fetched', async (t) => {
  const clock = createManualClock(Date.now())
  const nowSec = (): number => Math.floor(clock.now() / 1000)
  const [key, stranger] = [await testKey(), await testKey()]
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  server.handler = (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=600', age: '60' })
    response.end(JSON.stringify({ keys: [key.publicJwk] }))
  }
  const { app } = await buildConsumer(t, server.url, { clock, clockTolerance: 5, jwks: { cooldown: 30 } })
  // Signed 10 s ago, but the set was generated 60 s ago: a key published since may be missing from it.
  const response = await deliver(app, tokenFor(stranger, { nowSec: nowSec() - 10 }))
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'WEBHOOK_KEY_UNAVAILABLE')
})

t.test('a receiver started before its sender: until a first set is fetched, retries come after 1 s, 2 s, 4 s… up to the cooldown', async (t) => {
  const clock = createManualClock(Date.now())
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  server.handler = (request) => { request.socket.destroy() }
  const { app } = await buildConsumer(t, server.url, { clock, jwks: { cooldown: 30 } })
  const send = async (): Promise<{ status: number, retryAfter: unknown }> => {
    const response = await deliver(app, tokenFor(key, { nowSec: Math.floor(clock.now() / 1000) }))
    return { status: response.statusCode, retryAfter: response.headers['retry-after'] }
  }
  t.same(await send(), { status: 503, retryAfter: '1' }, 'the warm-up fetch failed: try again in a second')
  clock.advance(FIRST_FETCH_BACKOFF_MS)
  t.same(await send(), { status: 503, retryAfter: '2' }, 'a second failure doubles the wait')
  t.equal(server.fetches, 2)
  clock.advance(2000)
  t.same(await send(), { status: 503, retryAfter: '4' })
  for (let wait = 4000; wait < 30_000; wait *= 2) {
    clock.advance(wait)
    await send()
  }
  t.same(await send(), { status: 503, retryAfter: '30' }, 'never longer than the cooldown')
  server.handler = null
  clock.advance(30_000)
  t.same(await send(), { status: 200, retryAfter: undefined }, 'the sender is up: verified')
  t.equal(server.fetches, 7, 'one fetch per wait: 1, 2, 4, 8, 16, 30 s')
})
