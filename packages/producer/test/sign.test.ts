import t from 'tap'
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { memoryKeyStore } from '@webhook-jwt/producer'
import { SIGNING_ALGORITHMS, bodyDigest } from '@webhook-jwt/protocol'
import { AUDIENCE, ISSUER, buildProducer, listen } from './helpers/producer-app.ts'

t.test('a signed webhook verifies with plain jose against the JWKS URL, with typ, issuer, audience and algorithm pinned', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore() })
  const jwksUrl = await listen(app)
  const event = { type: 'invoice.paid', invoice: 'in_1', amount: 4200 }
  const signed = await app.webhooks.sign(event, { audience: AUDIENCE, id: 'evt_1' })
  const { payload, protectedHeader } = await jwtVerify(signed.token, createRemoteJWKSet(jwksUrl), {
    typ: 'webhook+jwt', issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], requiredClaims: ['exp', 'iat', 'jti']
  })
  t.same(protectedHeader, { alg: 'ES256', kid: app.webhooks.status().activeKid, typ: 'webhook+jwt' })
  t.equal(payload.body_sha256, bodyDigest(signed.body), 'the digest covers the exact body bytes')
  t.same(JSON.parse(signed.body.toString()), event)
  t.equal(payload.webhook_id, 'evt_1')
  t.equal((payload.exp as number) - (payload.iat as number), 300)
  t.same(signed.headers, { authorization: `Bearer ${signed.token}`, 'content-type': 'application/json', 'webhook-id': 'evt_1' })
  t.equal(signed.id, 'evt_1')
  t.equal(signed.kid, protectedHeader.kid)
})

t.test('every algorithm signs tokens its JWKS verifies', async (t) => {
  for (const algorithm of SIGNING_ALGORITHMS) {
    const { app } = await buildProducer(t, { keyStore: memoryKeyStore(), algorithm })
    const jwks = createLocalJWKSet((await app.inject('/.well-known/jwks.json')).json())
    const signed = await app.webhooks.sign({ n: 1 }, { audience: AUDIENCE })
    const { protectedHeader } = await jwtVerify(signed.token, jwks, { typ: 'webhook+jwt', issuer: ISSUER, audience: AUDIENCE, algorithms: [algorithm] })
    t.equal(protectedHeader.alg, algorithm)
  }
})

t.test('each call is a new token with a new jti; the webhook id is stable when given, fresh when not', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore(), tokenTtl: 60 })
  const [a, b] = await Promise.all([app.webhooks.sign({}, { audience: AUDIENCE, id: 'evt' }), app.webhooks.sign({}, { audience: AUDIENCE, id: 'evt' })])
  const claims = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString())
  t.not(claims(a!.token).jti, claims(b!.token).jti)
  t.equal(claims(a!.token).webhook_id, claims(b!.token).webhook_id)
  t.equal((claims(a!.token).exp as number) - (claims(a!.token).iat as number), 60)
  const generated = await app.webhooks.sign({}, { audience: AUDIENCE })
  t.match(generated.id, /^wh_/)
})

t.test('raw bytes are sent as given; a custom header carries the bare token', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore(), header: 'x-webhook-token' })
  const body = Buffer.from('{"pre": "serialised",  "spacing": true}')
  const signed = await app.webhooks.sign(body, { audience: AUDIENCE, contentType: 'application/vnd.acme+json' })
  t.same(signed.body, body)
  t.equal(signed.headers['x-webhook-token'], signed.token)
  t.notOk('authorization' in signed.headers)
  t.equal(signed.headers['content-type'], 'application/vnd.acme+json')
  const claims = JSON.parse(Buffer.from(signed.token.split('.')[1] as string, 'base64url').toString())
  t.equal(claims.body_sha256, bodyDigest(body))
})

t.test('caller mistakes are TypeErrors naming the argument', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore() })
  await t.rejects(app.webhooks.sign({}, {} as never), { name: 'TypeError', message: '"audience" must be a non-empty string' })
  await t.rejects(app.webhooks.sign({}, undefined as never), { name: 'TypeError', message: '"audience" must be a non-empty string' })
  await t.rejects(app.webhooks.sign({}, { audience: AUDIENCE, id: '' }), { message: '"id" must be a non-empty string' })
  await t.rejects(app.webhooks.sign({}, { audience: AUDIENCE, contentType: 7 as never }), { message: '"contentType" must be a non-empty string' })
  await t.rejects(app.webhooks.sign(undefined, { audience: AUDIENCE }), { name: 'TypeError', message: /JSON-serialisable/ })
})

t.test('reply.webhook signs and sends: token header, content type, webhook-id and the exact body', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore() }, (app) => {
    app.get('/latest', async (_request, reply) => await reply.webhook({ type: 'ping' }, { audience: AUDIENCE, id: 'evt_9' }))
  })
  const response = await app.inject('/latest')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], 'application/json')
  t.equal(response.headers['webhook-id'], 'evt_9')
  t.equal(response.body, '{"type":"ping"}')
  const token = (response.headers.authorization as string).replace(/^Bearer /, '')
  t.equal(decodeProtectedHeader(token).kid, app.webhooks.status().activeKid)
  const jwks = createLocalJWKSet((await app.inject('/.well-known/jwks.json')).json())
  const { payload } = await jwtVerify(token, jwks, { typ: 'webhook+jwt', issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'] })
  t.equal(payload.body_sha256, bodyDigest(response.rawPayload))
})
