import { generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { TOKEN_TYPE, bodyDigest, newJti, newWebhookId, signWebhookToken } from '@webhook-jwt/protocol'

t.test('a token carries the protocol header and claims', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const body = Buffer.from('{"type":"ping"}')
  const nowMs = Date.UTC(2026, 0, 1, 0, 0, 0, 999)
  const token = await signWebhookToken({ privateKey, kid: 'kid-1', algorithm: 'ES256', issuer: 'https://sender.test', audience: 'https://receiver.test/hooks', webhookId: 'wh_1', body, ttl: 300, nowMs })
  t.same(decodeProtectedHeader(token), { alg: 'ES256', kid: 'kid-1', typ: TOKEN_TYPE })
  const { payload } = await jwtVerify(token, publicKey, { typ: TOKEN_TYPE, issuer: 'https://sender.test', audience: 'https://receiver.test/hooks', algorithms: ['ES256'], currentDate: new Date(nowMs) })
  t.equal(payload.iat, Math.floor(nowMs / 1000))
  t.equal(payload.exp, (payload.iat as number) + 300)
  t.equal(payload.webhook_id, 'wh_1')
  t.equal(payload.body_sha256, bodyDigest(body))
  t.match(payload.jti, /^[A-Za-z0-9_-]{22}$/)
})

t.test('every jti and webhook id is new', async (t) => {
  const jtis = new Set(Array.from({ length: 1000 }, () => newJti()))
  t.equal(jtis.size, 1000)
  t.equal(Buffer.from(newJti(), 'base64url').length, 16, '128 bits')
  t.match(newWebhookId(), /^wh_[0-9a-f-]{36}$/)
})
