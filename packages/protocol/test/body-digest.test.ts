import { createHash } from 'node:crypto'
import t from 'tap'
import { bodyDigest, digestsMatch } from '@webhook-jwt/protocol'

t.test('base64url SHA-256 of the exact bytes, without padding', async (t) => {
  t.equal(bodyDigest(Buffer.from('{}')), createHash('sha256').update('{}').digest('base64url'))
  t.equal(bodyDigest(''), '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU')
  t.equal(bodyDigest('{"a":1}').length, 43)
  t.notOk(bodyDigest('{"a":1}').includes('='))
  t.not(bodyDigest('{"a":1}'), bodyDigest('{"a": 1}'), 'whitespace is part of the body')
})

t.test('digestsMatch', async (t) => {
  const digest = bodyDigest('hello')
  t.ok(digestsMatch(digest, digest))
  t.notOk(digestsMatch(digest, bodyDigest('hellO')))
  t.notOk(digestsMatch(digest, digest.slice(1)))
  t.notOk(digestsMatch(digest, undefined))
  t.notOk(digestsMatch(digest, 42))
})
