import t from 'tap'
import { DEFAULT_ALGORITHM, SIGNING_ALGORITHMS, isSigningAlgorithm } from '@webhook-jwt/protocol'

t.test('only the asymmetric algorithms of the protocol, spelt exactly', async (t) => {
  t.equal(DEFAULT_ALGORITHM, 'ES256')
  for (const algorithm of SIGNING_ALGORITHMS) t.ok(isSigningAlgorithm(algorithm), algorithm)
  for (const other of ['es256', 'HS256', 'none', 'RS384', '', undefined, 256]) t.notOk(isSigningAlgorithm(other), String(other))
})
