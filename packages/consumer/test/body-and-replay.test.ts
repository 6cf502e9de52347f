import { Readable } from 'node:stream'
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { createManualClock } from '@webhook-jwt/protocol'
import { DEFAULT_DEDUPLICATE_WINDOW, DEFAULT_PROCESSING_TIMEOUT, ReplayStoreFullError, memoryReplayStore, type ReplayStore } from '@webhook-jwt/consumer'
import { buildConsumer, deliver } from './helpers/consumer-app.ts'
import { startJwksServer } from './helpers/jwks-server.ts'
import { BODY, ISSUER, testKey, tokenFor } from './helpers/token-factory.ts'

t.test('the digest covers the exact bytes, streamed in pieces; the handler sees what was hashed', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app, handled } = await buildConsumer(t, server.url)
  const body = '{"type":"invoice.paid",  "amount": 4200}'
  const response = await app.inject({
    method: 'POST',
    url: '/hooks',
    headers: { authorization: `Bearer ${tokenFor(key, { body })}`, 'content-type': 'application/json' },
    payload: Readable.from([Buffer.from(body.slice(0, 7)), Buffer.from(body.slice(7, 20)), Buffer.from(body.slice(20))])
  })
  t.equal(response.statusCode, 200, response.body)
  t.same(handled[0]?.body, { type: 'invoice.paid', amount: 4200 })
  const reformatted = await deliver(app, tokenFor(key, { body }), JSON.stringify(JSON.parse(body)))
  t.equal(reformatted.json().code, 'WEBHOOK_BODY_DIGEST_MISMATCH', 'the same JSON re-serialised is another body')
  t.equal(handled.length, 1)
})

t.test('a request without a body is checked against the digest of no bytes', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app } = await buildConsumer(t, server.url, {}, (app) => {
    app.get('/ping', { config: { webhook: true } }, async (request) => ({ id: request.webhook?.id }))
  })
  const ping = async (body: string): Promise<number> => (await app.inject({ method: 'GET', url: '/ping', headers: { authorization: `Bearer ${tokenFor(key, { body })}` } })).statusCode
  t.equal(await ping(''), 200)
  t.equal(await ping('{}'), 401)
})

t.test('bodyDigest optional: a token without body_sha256 passes, one with a wrong digest does not', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app } = await buildConsumer(t, server.url, { bodyDigest: 'optional' })
  t.equal((await deliver(app, tokenFor(key, { claims: { body_sha256: undefined } }))).statusCode, 200)
  t.equal((await deliver(app, tokenFor(key, { body: 'other' }))).json().code, 'WEBHOOK_BODY_DIGEST_MISMATCH')
})

t.test('a token is accepted once; a replay is refused, also after a tampered attempt failed', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app, handled, verifications } = await buildConsumer(t, server.url)
  const token = tokenFor(key)
  t.equal((await deliver(app, token, '{"tampered":true}')).json().code, 'WEBHOOK_BODY_DIGEST_MISMATCH')
  t.equal((await deliver(app, token)).statusCode, 200, 'a refused attempt does not use up the jti')
  const replay = await deliver(app, token)
  t.equal(replay.statusCode, 401)
  t.equal(replay.json().code, 'WEBHOOK_REPLAYED')
  t.equal(handled.length, 1)
  t.match(verifications.at(-1), { outcome: 'rejected', code: 'WEBHOOK_REPLAYED', status: 401, kid: key.kid })
})

t.test('a replay store that fails, or is full, fails closed with 503', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const failing: ReplayStore = { remember: async () => { throw new Error('redis down') } }
  const { app, logs, handled } = await buildConsumer(t, server.url, { replayStore: failing })
  const response = await deliver(app, tokenFor(key))
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'WEBHOOK_REPLAY_STORE_UNAVAILABLE')
  t.equal(response.headers['retry-after'], '5')
  t.notMatch(response.body, /redis/)
  t.ok(logs.some((line) => line.msg === 'webhook replay store failed; answering 503'))
  const { app: full } = await buildConsumer(t, server.url, { replayStore: memoryReplayStore({ maxEntries: 1 }) })
  t.equal((await deliver(full, tokenFor(key))).statusCode, 200)
  t.equal((await deliver(full, tokenFor(key))).json().code, 'WEBHOOK_REPLAY_STORE_UNAVAILABLE')
  t.same(handled, [])
})

t.test('replayStoreFailure accept: a failing replay store fails open, with a warning at registration and an error line per request', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const failing: ReplayStore = { remember: async () => { throw new Error('redis down') } }
  const { app, logs, handled, verifications } = await buildConsumer(t, server.url, { replayStore: failing, replayStoreFailure: 'accept' })
  t.ok(logs.some((line) => line.level === 40 && /fails OPEN/.test(line.msg) && line.replayStoreFailure === 'accept'), 'warned at registration')
  const token = tokenFor(key, { claims: { jti: 'jti-unchecked-1', webhook_id: 'wh_unchecked' } })
  t.equal((await deliver(app, token)).statusCode, 200)
  t.equal((await deliver(app, token)).statusCode, 200, 'the same token again: nothing could be remembered, so the replay is accepted too')
  t.equal(handled.length, 2)
  const accepted = logs.filter((line) => line.level === 50 && /ACCEPTING the webhook UNCHECKED/.test(line.msg))
  t.equal(accepted.length, 2, 'one error line per request accepted unchecked')
  t.match(accepted[0], { check: 'replay', issuer: ISSUER, jti: 'jti-unchecked-1', webhookId: 'wh_unchecked', err: { message: 'redis down' } })
  t.match(verifications, [{ outcome: 'accepted', unchecked: true }, { outcome: 'accepted', unchecked: true }])
  t.notOk(logs.some((line) => line.msg === 'webhook replay store failed; answering 503'))
  const { logs: closedLogs } = await buildConsumer(t, server.url, { replayStore: failing })
  t.notOk(closedLogs.some((line) => /fails OPEN/.test(line.msg)), 'no warning by default: the default fails closed')
})

t.test('replayStoreFailure accept with deduplicate: a failing duplicate check fails open too, and a working one still answers duplicates', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  let forgets = 0
  const down: ReplayStore = { remember: async () => { throw new Error('redis down') }, forget: async () => { forgets++ } }
  const { app, logs, handled, verifications } = await buildConsumer(t, server.url, { replayStore: down, deduplicate: { store: down }, replayStoreFailure: 'accept' })
  t.equal((await deliver(app, tokenFor(key, { claims: { webhook_id: 'wh_both_down' } }))).statusCode, 200)
  t.equal((await deliver(app, tokenFor(key, { claims: { webhook_id: 'wh_both_down' } }))).statusCode, 200, 'the repeat reaches the handler: no check could run')
  t.equal(handled.length, 2)
  t.same(logs.filter((line) => line.level === 50).map((line) => [line.check, line.webhookId]), [['replay', 'wh_both_down'], ['duplicate', 'wh_both_down'], ['replay', 'wh_both_down'], ['duplicate', 'wh_both_down']])
  t.equal(forgets, 0, 'nothing was claimed, so nothing is released')
  t.match(verifications, [{ outcome: 'accepted', unchecked: true }, { outcome: 'accepted', unchecked: true }])

  const { app: halfDown, handled: halfHandled, verifications: halfVerifications } = await buildConsumer(t, server.url, { replayStore: down, deduplicate: true, replayStoreFailure: 'accept' })
  t.equal((await deliver(halfDown, tokenFor(key, { claims: { webhook_id: 'wh_replay_down' } }))).statusCode, 200)
  t.same((await deliver(halfDown, tokenFor(key, { claims: { webhook_id: 'wh_replay_down' } }))).json(), { duplicate: true, id: 'wh_replay_down' }, 'the duplicate check still works')
  t.equal(halfHandled.length, 1)
  t.match(halfVerifications, [{ outcome: 'accepted', unchecked: true }, { outcome: 'accepted', duplicate: true, unchecked: true }])

  const { app: dedupeDown, verifications: dedupeVerifications } = await buildConsumer(t, server.url, { deduplicate: { store: down }, replayStoreFailure: 'accept' })
  const token = tokenFor(key)
  t.equal((await deliver(dedupeDown, token)).statusCode, 200, 'only the duplicate check failed: accepted unchecked')
  t.equal((await deliver(dedupeDown, token)).json().code, 'WEBHOOK_REPLAYED', 'while the working replay check still refuses replays')
  t.match(dedupeVerifications, [{ outcome: 'accepted', unchecked: true }, { outcome: 'rejected', code: 'WEBHOOK_REPLAYED' }])
})

t.test('memoryReplayStore: remembers each id until its expiry, in two generations, and never forgets early', async (t) => {
  const clock = createManualClock(0)
  const store = memoryReplayStore({ maxEntries: 3 })
  const remember = (key: string, ttlMs: number): boolean => store.remember(key, clock.now() + ttlMs, clock.now()) as boolean
  t.ok(remember('a', 1000))
  t.notOk(remember('a', 1000), 'seen')
  t.ok(remember('b', 1000))
  clock.advance(999)
  t.notOk(remember('a', 1000), 'still remembered just before its expiry')
  clock.advance(1)
  t.ok(remember('c', 5000), 'the generation of a and b expired and rotated out')
  t.ok(remember('a', 1000), 'a has expired: a new token may reuse nothing, but the store no longer needs it')
  t.ok(remember('d', 1000), 'room for one more')
  t.throws(() => remember('e', 1000), ReplayStoreFullError, 'full: refused, nothing forgotten to make room')
  t.notOk(remember('c', 5000), 'c is kept: its generation has not expired')
  t.notOk(remember('d', 1000), 'and d')
  clock.advance(999)
  t.notOk(remember('d', 1000), 'still d, a millisecond before its token expires')
})

t.test('deduplicate: a handled webhook_id is answered 200 { duplicate: true } without the handler; a failed one is handled again', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  let failNext = true
  const handled: string[] = []
  const { app, verifications } = await buildConsumer(t, server.url, { deduplicate: true }, (app) => {
    app.post('/orders', { config: { webhook: true } }, async (request, reply) => {
      if (failNext) {
        failNext = false
        return await reply.code(500).send({ error: 'database down' })
      }
      handled.push(request.webhook?.id as string)
      return { ok: true }
    })
  })
  const send = async (): Promise<{ status: number, body: unknown }> => {
    const response = await postTo(app, '/orders', tokenFor(key, { claims: { webhook_id: 'wh_order_1' } }))
    return { status: response.statusCode, body: response.json() }
  }
  t.same(await send(), { status: 500, body: { error: 'database down' } }, 'the handler failed: the claim is released')
  t.same(await send(), { status: 200, body: { ok: true } }, 'so the retry is handled')
  t.same(await send(), { status: 200, body: { duplicate: true, id: 'wh_order_1' } }, 'and a later repeat is acknowledged without the handler')
  t.same(handled, ['wh_order_1'])
  t.match(verifications.at(-1), { outcome: 'accepted', duplicate: true })
})

t.test('deduplicate: a repeat that arrives while the first is still handled gets 503 WEBHOOK_DELIVERY_IN_PROGRESS', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  let finish: (() => void) | null = null
  const { app } = await buildConsumer(t, server.url, { deduplicate: { window: '1h' } }, (app) => {
    app.post('/slow', { config: { webhook: true } }, async () => {
      await new Promise<void>((resolve) => { finish = resolve })
      return { ok: true }
    })
  })
  const first = postTo(app, '/slow', tokenFor(key, { claims: { webhook_id: 'wh_slow' } }))
  const handling = (): boolean => finish !== null
  for (let waited = 0; !handling() && waited < 5000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5))
  const repeat = await postTo(app, '/slow', tokenFor(key, { claims: { webhook_id: 'wh_slow' } }))
  t.equal(repeat.statusCode, 503)
  t.equal(repeat.json().code, 'WEBHOOK_DELIVERY_IN_PROGRESS')
  t.equal(repeat.headers['retry-after'], '5')
  ;(finish as unknown as () => void)()
  t.equal((await first).statusCode, 200)
})

t.test('deduplicate: store failures answer 503 when claiming, and are logged when releasing', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const inner = memoryReplayStore()
  let failOn = ''
  const replayStore: ReplayStore = {
    remember: (entry, expiresAt, now) => {
      if (failOn === 'remember' && entry.includes('webhook_id')) throw new Error('store down')
      if (failOn === 'remember done' && entry.includes('webhook_id:done')) throw new Error('store down')
      return inner.remember(entry, expiresAt, now)
    },
    forget: (entry) => {
      if (failOn === 'forget') throw new Error('store down')
      inner.forget?.(entry)
    }
  }
  const { app, logs } = await buildConsumer(t, server.url, { deduplicate: { store: replayStore } }, (app) => {
    app.post('/failing', { config: { webhook: true } }, async (_request, reply) => await reply.code(500).send({}))
  })
  failOn = 'remember'
  const claim = await postTo(app, '/failing', tokenFor(key))
  t.equal(claim.json().code, 'WEBHOOK_REPLAY_STORE_UNAVAILABLE')
  failOn = 'remember done'
  t.equal((await postTo(app, '/failing', tokenFor(key, { claims: { webhook_id: 'wh_half' } }))).json().code, 'WEBHOOK_REPLAY_STORE_UNAVAILABLE', 'the done key failed after the processing key was taken')
  failOn = ''
  t.equal((await postTo(app, '/failing', tokenFor(key, { claims: { webhook_id: 'wh_half' } }))).statusCode, 500, 'that id was not left in progress: the retry reached the handler')
  failOn = 'forget'
  t.equal((await postTo(app, '/failing', tokenFor(key, { claims: { webhook_id: 'wh_lost' } }))).statusCode, 500)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.ok(logs.some((line) => line.msg === 'webhook duplicate check could not release its claim; retries of this webhook_id get 503 until its processing timeout'))
})

t.test('deduplicate needs a replay store that can forget, and a valid window', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  await t.rejects(buildConsumer(t, server.url, { deduplicate: { store: { remember: () => true } } }), { code: 'WEBHOOK_INVALID_OPTION', option: 'deduplicate.store', message: /forget\(key\)/ })
  await t.rejects(buildConsumer(t, server.url, { deduplicate: { processingTimeout: -1 } }), { code: 'WEBHOOK_INVALID_OPTION', option: 'deduplicate.processingTimeout' })
  await t.rejects(buildConsumer(t, server.url, { deduplicate: { processingTimeout: 0 } }), { code: 'WEBHOOK_INVALID_OPTION', option: 'deduplicate.processingTimeout', message: /more than 0/ }, 'a claim held for no time would be refused by every store')
  await t.rejects(buildConsumer(t, server.url, { deduplicate: { window: 'forever' } }), { code: 'WEBHOOK_INVALID_OPTION', option: 'deduplicate.window' })
  await t.rejects(buildConsumer(t, server.url, { deduplicate: 'yes' as never }), { option: 'deduplicate', message: /must be an object/ })
  t.equal(DEFAULT_DEDUPLICATE_WINDOW, 4 * 86400)
  t.equal(DEFAULT_PROCESSING_TIMEOUT, 60)
})

async function postTo (app: FastifyInstance, url: string, token: string): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, payload: BODY })
}

t.test('deduplicate across replicas sharing a store: a repeat while the first is handled elsewhere gets 503, never an early 200', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const store = memoryReplayStore()
  let finish: (status: number) => void = () => {}
  let entered = 0
  const replica = async (): Promise<FastifyInstance> => (await buildConsumer(t, server.url, { deduplicate: { store } }, (app) => {
    app.post('/shared', { config: { webhook: true } }, async (_request, reply) => {
      entered++
      return await reply.code(await new Promise<number>((resolve) => { finish = resolve })).send({})
    })
  })).app
  // Waits (5 s at most) until the handler has been entered `count` times, so that `finish` answers that call.
  const handlerReached = async (count: number): Promise<void> => {
    const reached = (): boolean => entered >= count
    for (let waited = 0; !reached() && waited < 5000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5))
    t.equal(entered, count, 'the handler was reached')
  }
  const [first, second] = [await replica(), await replica()]
  const handling = postTo(first, '/shared', tokenFor(key, { claims: { webhook_id: 'wh_shared' } }))
  await handlerReached(1)
  const repeat = await postTo(second, '/shared', tokenFor(key, { claims: { webhook_id: 'wh_shared' } }))
  t.equal(repeat.json().code, 'WEBHOOK_DELIVERY_IN_PROGRESS', 'the other replica does not acknowledge what is not handled yet')
  finish(500)
  t.equal((await handling).statusCode, 500)
  const retry = postTo(second, '/shared', tokenFor(key, { claims: { webhook_id: 'wh_shared' } }))
  await handlerReached(2)
  finish(200)
  t.equal((await retry).statusCode, 200, 'the failed first handling released the id: the retry was handled')
  t.same((await postTo(first, '/shared', tokenFor(key, { claims: { webhook_id: 'wh_shared' } }))).json(), { duplicate: true, id: 'wh_shared' })
})

t.test('deduplicate: a sender that hangs up while the handler works does not leave the id claimed', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  let handled = 0
  const { app } = await buildConsumer(t, server.url, { deduplicate: true }, (app) => {
    app.post('/slow', { config: { webhook: true } }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 200))
      handled++
      return { ok: true }
    })
  })
  const url = new URL('/slow', await app.listen({ port: 0, host: '127.0.0.1' }))
  const send = async (signal?: AbortSignal): Promise<Response> => await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor(key, { claims: { webhook_id: 'wh_hangup' } })}` }, body: BODY, ...(signal === undefined ? {} : { signal }) })
  await t.rejects(send(AbortSignal.timeout(50)), 'the sender gave up first')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(handled, 1, 'the handler finished')
  t.same(await (await send()).json(), { duplicate: true, id: 'wh_hangup' }, 'its retry is acknowledged as handled, not refused as in progress')
})
