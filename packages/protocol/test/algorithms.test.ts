import t from 'tap'
import { DEFAULT_ALGORITHM, SIGNING_ALGORITHMS, algorithmsForKey, isSigningAlgorithm } from '@webhook-jwt/protocol'

t.test('only the asymmetric algorithms of the protocol, spelt exactly', async (t) => {
  t.equal(DEFAULT_ALGORITHM, 'ES256')
  for (const algorithm of SIGNING_ALGORITHMS) t.ok(isSigningAlgorithm(algorithm), algorithm)
  for (const other of ['es256', 'HS256', 'none', 'RS384', '', undefined, 256]) t.notOk(isSigningAlgorithm(other), String(other))
})

t.test('algorithmsForKey: what each key type and curve verifies', async (t) => {
  t.same(algorithmsForKey({ kty: 'EC', crv: 'P-256' }), ['ES256'])
  t.same(algorithmsForKey({ kty: 'EC', crv: 'P-384' }), ['ES384'])
  t.same(algorithmsForKey({ kty: 'OKP', crv: 'Ed25519' }), ['EdDSA'])
  t.same(algorithmsForKey({ kty: 'RSA' }), ['RS256', 'PS256'])
  for (const other of [{ kty: 'EC', crv: 'P-521' }, { kty: 'OKP', crv: 'X25519' }, { kty: 'oct' }, {}]) t.same(algorithmsForKey(other), [], JSON.stringify(other))
})
