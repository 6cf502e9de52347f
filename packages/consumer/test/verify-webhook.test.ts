import t from 'tap'
import { buildConsumer, deliver } from './helpers/consumer-app.ts'
import { startJwksServer } from './helpers/jwks-server.ts'
import { AUDIENCE, BODY, ISSUER, testKey, tokenFor } from './helpers/token-factory.ts'

t.test('a valid webhook reaches the handler with request.webhook set', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app, handled, verifications } = await buildConsumer(t, server.url)
  const response = await deliver(app, tokenFor(key, { claims: { webhook_id: 'evt_7' } }))
  t.equal(response.statusCode, 200, response.body)
  t.same(response.json(), { ok: true, id: 'evt_7' })
  t.match(handled, [{ webhook: { id: 'evt_7', issuer: ISSUER, kid: key.kid, claims: { aud: AUDIENCE, webhook_id: 'evt_7' } }, body: JSON.parse(BODY) }])
  t.match(verifications, [{ outcome: 'accepted', status: 200, issuer: ISSUER, kid: key.kid }])
  t.equal(server.fetches, 1, 'the key set was fetched once, at startup')
})

t.test('config.webhook opts a route in without listing the preHandler', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app } = await buildConsumer(t, server.url, {}, (app) => {
    app.post('/other', { config: { webhook: true } }, async (request) => ({ id: request.webhook?.id }))
    app.post('/open', async (request) => ({ webhook: request.webhook }))
  })
  const ok = await app.inject({ method: 'POST', url: '/other', headers: { authorization: `Bearer ${tokenFor(key)}`, 'content-type': 'application/json' }, payload: BODY })
  t.same(ok.json(), { id: 'wh_1' })
  const refused = await app.inject({ method: 'POST', url: '/other', headers: { 'content-type': 'application/json' }, payload: BODY })
  t.equal(refused.statusCode, 401)
  const open = await app.inject({ method: 'POST', url: '/open', headers: { 'content-type': 'application/json' }, payload: BODY })
  t.same(open.json(), { webhook: null }, 'other routes are untouched')
})

t.test('typ application/webhook+jwt is the same type (RFC 7515 §4.1.9) and is accepted', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app } = await buildConsumer(t, server.url)
  const response = await deliver(app, tokenFor(key, { header: { typ: 'application/webhook+jwt' } }))
  t.equal(response.statusCode, 200, response.body)
})
