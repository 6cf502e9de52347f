import t from 'tap'
import { networkErrorName } from '@webhook-jwt/protocol'
import { fetchJwks } from '../src/key-set/fetch-jwks.ts'
import { readKeySetDocument } from '../src/key-set/key-set-document.ts'
import { testKey } from './helpers/token-factory.ts'

t.test('networkErrorName prefers the system error code', async (t) => {
  t.equal(networkErrorName(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })), 'ECONNREFUSED')
  t.equal(networkErrorName(Object.assign(new TypeError('fetch failed'), { cause: { code: 42 } })), 'TypeError')
  t.equal(networkErrorName(new RangeError('odd')), 'RangeError')
})

t.test('keys without a kid, or with an empty one, are skipped; the others are used', async (t) => {
  const key = await testKey()
  const { kid: _kid, ...withoutKid } = key.publicJwk
  const keys = await readKeySetDocument({ keys: [withoutKid, { ...withoutKid, kid: '' }, key.publicJwk] }, { maxKeys: 50, requireThumbprintKids: true })
  t.same([...keys.keys()], [key.kid])
})

t.test('a kid that is not the thumbprint is accepted when the option allows it', async (t) => {
  const key = await testKey()
  const keys = await readKeySetDocument({ keys: [{ ...key.publicJwk, kid: 'chosen' }] }, { maxKeys: 50, requireThumbprintKids: false })
  t.same([...keys.keys()], ['chosen'])
})

t.test('a fetch that starts after the app began closing stops at once', async (t) => {
  const started = Date.now()
  await t.rejects(fetchJwks(new URL('http://127.0.0.1:9/jwks.json'), { timeoutMs: 30_000, maxBytes: 1000, closing: AbortSignal.abort() }), { message: 'the app closed during the fetch' })
  t.ok(Date.now() - started < 5000)
})
