import { generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { toPublishedJwk } from '@webhook-jwt/protocol'

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

t.test('only public members are copied, for every key type', async (t) => {
  const pairs = [
    generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    generateKeyPairSync('ed25519'),
    generateKeyPairSync('rsa', { modulusLength: 2048 })
  ]
  for (const { privateKey } of pairs) {
    const jwk = { ...privateKey.export({ format: 'jwk' }), key_ops: ['sign'], ext: true, x5c: ['junk'] }
    const published = toPublishedJwk(jwk, { kid: 'k1', alg: 'X' })
    t.same(Object.keys(published).filter((member) => PRIVATE_MEMBERS.includes(member)), [], `${jwk.kty} ${String(jwk.crv)}`)
    t.notOk('key_ops' in published || 'x5c' in published || 'ext' in published)
    t.match(published, { kid: 'k1', alg: 'X', use: 'sig', kty: jwk.kty })
  }
})

t.test('symmetric and unknown key types are refused', async (t) => {
  t.throws(() => toPublishedJwk({ kty: 'oct', k: 'c2VjcmV0' }, { kid: 'k', alg: 'HS256' }), { name: 'TypeError', message: /oct key cannot be published/ })
  t.throws(() => toPublishedJwk({}, { kid: 'k', alg: 'ES256' }), { name: 'TypeError' })
  t.throws(() => toPublishedJwk({ kty: 'EC', crv: 'P-256', x: 'abc' }, { kid: 'k', alg: 'ES256' }), { message: /needs the member "y"/ })
})
