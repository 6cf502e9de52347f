import t from 'tap'
import underPressure from '@fastify/under-pressure'
import { consumerHealthCheck, webhookPressureHandler } from '@webhook-jwt/consumer'
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
  t.match(fetches, [{ reason: 'startup', outcome: 'fetched', status: 200, kids: [key.kid], stale: false }])
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
