import t from 'tap'
import underPressure from '@fastify/under-pressure'
import { WARM_UP_WAIT_MS, consumerHealthCheck, webhookPressureHandler, type ReplayStore } from '@webhook-jwt/consumer'
import { receiverProblem } from '@webhook-jwt/protocol'
import { buildConsumer, deliver } from './helpers/consumer-app.ts'
import { startJwksServer } from './helpers/jwks-server.ts'
import { AUDIENCE, BODY, ISSUER, testKey, tokenFor } from './helpers/token-factory.ts'

t.test('several issuers, each with its own key set: a key of one never verifies tokens of the other', async (t) => {
  const [keyA, keyB] = [await testKey(), await testKey('EdDSA')]
  const [serverA, serverB] = [await startJwksServer(t, { keys: [keyA.publicJwk] }), await startJwksServer(t, { keys: [keyB.publicJwk] })]
  const { app, handled } = await buildConsumer(t, serverA.url, {
    issuer: undefined,
    jwksUrl: undefined,
    issuers: [{ issuer: 'https://a.test', jwksUrl: serverA.url }, { issuer: 'https://b.test', jwksUrl: serverB.url.href }],
    algorithms: ['ES256', 'EdDSA'],
    audience: ['https://other.test', AUDIENCE]
  })
  t.equal((await deliver(app, tokenFor(keyA, { claims: { iss: 'https://a.test' } }))).statusCode, 200)
  t.equal((await deliver(app, tokenFor(keyB, { claims: { iss: 'https://b.test' } }))).statusCode, 200)
  const crossed = await deliver(app, tokenFor(keyA, { claims: { iss: 'https://b.test' } }))
  t.equal(crossed.statusCode, 503, 'a-s kid is unknown in b-s set')
  t.equal((await deliver(app, tokenFor(keyA, { claims: { iss: ISSUER } }))).json().code, 'WEBHOOK_ISSUER_INVALID')
  t.same(handled.map((entry) => (entry.webhook as { issuer: string }).issuer), ['https://a.test', 'https://b.test'])
  t.same(app.webhookConsumer.status().map((status) => status.issuer), ['https://a.test', 'https://b.test'])
})

t.test('a custom header carries the bare token', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app } = await buildConsumer(t, server.url, { header: 'x-webhook-token' })
  t.equal((await deliver(app, undefined, BODY, { 'x-webhook-token': tokenFor(key) })).statusCode, 200)
  t.equal((await deliver(app, tokenFor(key))).json().code, 'WEBHOOK_TOKEN_MISSING', 'Authorization is not looked at')
})

t.test('every verification is reported once; listeners can be removed', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app, verifications, fetches } = await buildConsumer(t, server.url)
  await deliver(app, tokenFor(key))
  await deliver(app, 'garbage')
  t.match(verifications, [{ outcome: 'accepted', issuer: ISSUER, kid: key.kid, status: 200 }, { outcome: 'rejected', code: 'WEBHOOK_TOKEN_MALFORMED', status: 401 }])
  t.equal(verifications[1]?.issuer, undefined, 'nothing unverified is attributed')
  t.ok(verifications.every((event) => event.durationMs >= 0))
  t.same(fetches, [], 'the startup fetch happened at registration, before any listener; status() shows it')
  t.match(app.webhookConsumer.status(), [{ kids: [key.kid], fresh: true, lastSuccessAt: Date, lastError: null }])
  const seen: unknown[] = []
  const listener = (event: unknown): void => { seen.push(event) }
  app.webhookConsumer.on('verification', listener)
  app.webhookConsumer.off('verification', listener)
  await deliver(app, tokenFor(key))
  t.same(seen, [])
})

t.test('verifyWebhook used as a plain hook cannot verify the body and says so', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app } = await buildConsumer(t, server.url, {}, (app) => {
    app.register(async (scope) => {
      scope.addHook('preHandler', app.verifyWebhook)
      scope.post('/misused', async () => ({ ok: true }))
    })
  })
  const response = await app.inject({ method: 'POST', url: '/misused', headers: { authorization: `Bearer ${tokenFor(key)}`, 'content-type': 'application/json' }, payload: BODY })
  t.equal(response.statusCode, 500)
  t.notMatch(response.body, /"ok"/)
})

t.test('under-pressure: healthy while the key set is usable, and load is shed with WEBHOOK_OVERLOADED', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  server.handler = (_request, response) => { response.writeHead(500).end() }
  const { app } = await buildConsumer(t, server.url, {}, (app) => {
    app.register(underPressure, { exposeStatusRoute: true, healthCheck: consumerHealthCheck })
  })
  t.equal((await app.inject('/status')).statusCode, 503, 'no key set yet: unhealthy')
  const good = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app: healthy } = await buildConsumer(t, good.url, {}, (app) => {
    app.register(underPressure, { exposeStatusRoute: true, healthCheck: consumerHealthCheck })
  })
  t.equal((await healthy.inject('/status')).statusCode, 200, 'a usable key set: healthy')
  const { app: loaded } = await buildConsumer(t, server.url, {}, (app) => {
    app.register(underPressure, { maxEventLoopUtilization: 0.000001, sampleInterval: 5, pressureHandler: webhookPressureHandler(7) })
  })
  await new Promise((resolve) => setTimeout(resolve, 50))
  const shed = await deliver(loaded, tokenFor(key))
  t.equal(shed.statusCode, 503)
  t.same(shed.json(), receiverProblem('WEBHOOK_OVERLOADED'))
  t.equal(shed.headers['retry-after'], '7')
})

t.test('routes that list several hooks keep theirs, in order, around the verification', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const order: string[] = []
  const { app } = await buildConsumer(t, server.url, {}, (app) => {
    app.post('/hooked', {
      onRequest: [async () => { order.push('onRequest') }],
      preParsing: [async (_request, _reply, payload) => { order.push('preParsing'); return payload }],
      preHandler: [async () => { order.push('before') }, app.verifyWebhook, async (request) => { order.push(`after:${String(request.webhook?.id)}`) }]
    }, async () => ({ ok: true }))
  })
  const response = await app.inject({ method: 'POST', url: '/hooked', headers: { authorization: `Bearer ${tokenFor(key)}`, 'content-type': 'application/json' }, payload: BODY })
  t.equal(response.statusCode, 200)
  t.same(order, ['onRequest', 'preParsing', 'before', 'after:wh_1'])
})

t.test('an internal failure is a 500 from Fastify, never disguised as a refusal', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  let calls = 0
  const clock = { now: () => { if (++calls > 3) throw new Error('clock broke'); return Date.now() }, setTimeout, clearTimeout: (handle: unknown) => { clearTimeout(handle as NodeJS.Timeout) } }
  const { app, verifications } = await buildConsumer(t, server.url, { clock })
  calls = 1
  const response = await deliver(app, tokenFor(key))
  t.equal(response.statusCode, 500)
  t.notMatch(response.body, /WEBHOOK_/)
  t.same(verifications, [], 'not reported as a verification outcome')
})

t.test('the replay store is closed with the app', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  let closed = 0
  const { app } = await buildConsumer(t, server.url, { replayStore: { remember: () => true, close: async () => { closed++ } } })
  await app.close()
  t.equal(closed, 1)
})

t.test('the deduplicate store is closed with the app too, once when it is also the replay store', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const closed: string[] = []
  const store = (name: string): ReplayStore => ({ remember: () => true, forget: () => {}, close: async () => { closed.push(name) } })
  await (await buildConsumer(t, server.url, { replayStore: store('replay'), deduplicate: { store: store('dedupe') } })).app.close()
  t.same(closed, ['replay', 'dedupe'])
  const shared = store('shared')
  await (await buildConsumer(t, server.url, { replayStore: shared, deduplicate: { store: shared } })).app.close()
  t.same(closed, ['replay', 'dedupe', 'shared'])
  await (await buildConsumer(t, server.url, { deduplicate: true })).app.close()
  t.same(closed, ['replay', 'dedupe', 'shared'], 'memory stores have nothing to close')
})

t.test('listeners that throw or reject change nothing: verification, fetches and startup go on', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app, logs } = await buildConsumer(t, server.url, { jwks: { cooldown: 0 } }, (app) => {
    app.webhookConsumer.on('keySetFetch', () => { throw new Error('metrics bug') })
    app.webhookConsumer.on('verification', async () => { throw new Error('async metrics bug') })
  })
  t.equal((await deliver(app, tokenFor(key))).statusCode, 200)
  t.equal((await deliver(app, tokenFor(await testKey()))).json().code, 'WEBHOOK_KEY_UNKNOWN', 'the refetch for it was used despite its listener')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(logs.filter((line) => line.msg === 'a webhook consumer event listener failed').length, 3)
})

t.test('setup mistakes are 500s that say what to fix, never a verdict on the sender', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app, handled } = await buildConsumer(t, server.url, {}, (app) => {
    app.register(async (scope) => {
      scope.addContentTypeParser('application/octet-stream', (_request, payload, done) => { done(null, payload) })
      scope.post('/stream', { preHandler: app.verifyWebhook }, async () => ({ ok: true }))
      scope.register(async (inner) => {
        inner.addHook('preHandler', app.verifyWebhook)
        inner.post('/twice', { config: { webhook: true } }, async () => ({ ok: true }))
      })
    })
  })
  const body = 'raw bytes'
  const stream = await app.inject({ method: 'POST', url: '/stream', headers: { authorization: `Bearer ${tokenFor(key, { body })}`, 'content-type': 'application/octet-stream' }, payload: body })
  t.equal(stream.statusCode, 500, 'a body nobody read cannot be checked')
  const forged = await app.inject({ method: 'POST', url: '/stream', headers: { authorization: `Bearer ${tokenFor(key, { body: '' })}`, 'content-type': 'application/octet-stream' }, payload: 'EVIL BODY' })
  t.equal(forged.statusCode, 500, 'and is never taken for an empty one')
  const twice = await app.inject({ method: 'POST', url: '/twice', headers: { authorization: `Bearer ${tokenFor(key)}`, 'content-type': 'application/json' }, payload: BODY })
  t.equal(twice.statusCode, 500, 'verifying twice would refuse every delivery as a replay')
  t.same(handled, [])
})

t.test('a published key whose key_ops also lists sign still verifies', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [{ ...key.publicJwk, key_ops: ['verify', 'sign'] }] })
  const { app } = await buildConsumer(t, server.url)
  t.equal((await deliver(app, tokenFor(key))).statusCode, 200)
})

t.test('replay keys cannot collide across issuers, whatever characters issuer and jti hold', async (t) => {
  const [keyA, keyB] = [await testKey(), await testKey()]
  const [serverA, serverB] = [await startJwksServer(t, { keys: [keyA.publicJwk] }), await startJwksServer(t, { keys: [keyB.publicJwk] })]
  const { app } = await buildConsumer(t, serverA.url, { issuer: undefined, jwksUrl: undefined, issuers: [{ issuer: 'x', jwksUrl: serverA.url }, { issuer: 'x y', jwksUrl: serverB.url }] })
  t.equal((await deliver(app, tokenFor(keyA, { claims: { iss: 'x', jti: 'y z' } }))).statusCode, 200)
  t.equal((await deliver(app, tokenFor(keyB, { claims: { iss: 'x y', jti: 'z' } }))).statusCode, 200)
})

t.test('a sender that hangs delays startup by the warm-up wait at most, never past Fastify\'s plugin timeout', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  server.handler = () => {}
  const started = Date.now()
  // A fetch deadline past the warm-up wait: registration stops waiting first.
  const { app } = await buildConsumer(t, server.url, { jwks: { timeout: 7 } })
  const waited = Date.now() - started
  t.ok(waited >= WARM_UP_WAIT_MS - 100 && waited < WARM_UP_WAIT_MS + 3000, `started after ${waited} ms`)
  t.match(app.webhookConsumer.status(), [{ usable: false, kids: [] }])
  t.equal((await deliver(app, tokenFor(key))).statusCode, 503, 'and answers 503 (once the fetch it waits on gives up) until it has keys')
})
