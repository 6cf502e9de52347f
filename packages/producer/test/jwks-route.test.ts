import t from 'tap'
import { memoryKeyStore } from '@webhook-jwt/producer'
import { SIGNING_ALGORITHMS, keyIdOf } from '@webhook-jwt/protocol'
import { buildProducer, publishedKids } from './helpers/producer-app.ts'

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

t.test('serves the published keys with the caching headers of the contract', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore(), jwks: { maxAge: 120 } })
  const response = await app.inject('/.well-known/jwks.json')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], 'application/jwk-set+json')
  t.equal(response.headers['cache-control'], 'public, max-age=120')
  t.match(response.headers.etag, /^"[A-Za-z0-9_-]{43}"$/)
  const { keys } = response.json()
  t.equal(keys.length, 1)
  t.equal(keys[0].kid, app.webhooks.status().activeKid)
  t.equal(keys[0].kid, await keyIdOf(keys[0]), 'the kid is the RFC 7638 thumbprint')
  t.match(keys[0], { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' })
})

t.test('304 on a matching If-None-Match, weak or in a list; 200 otherwise', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore() })
  const { etag } = (await app.inject('/.well-known/jwks.json')).headers as { etag: string }
  for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const response = await app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': header } })
    t.equal(response.statusCode, 304, header)
    t.equal(response.body, '')
    t.equal(response.headers.etag, etag)
    t.equal(response.headers['cache-control'], 'public, max-age=600')
  }
  const stale = await app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': '"stale"' } })
  t.equal(stale.statusCode, 200)
})

t.test('the body and ETag change with the key set, and only then', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore(), rotation: { every: false } })
  const first = await app.inject('/.well-known/jwks.json')
  const again = await app.inject('/.well-known/jwks.json')
  t.equal(again.headers.etag, first.headers.etag)
  t.equal(again.body, first.body)
  app.webhooks.rotate().catch(() => {})
  await new Promise((resolve) => app.webhooks.on('transition', resolve))
  const rotated = await app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': first.headers.etag as string } })
  t.equal(rotated.statusCode, 200, 'the old ETag no longer matches')
  t.not(rotated.headers.etag, first.headers.etag)
  t.equal((await publishedKids(app)).length, 2)
})

t.test('HEAD answers with the headers only', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore() })
  const response = await app.inject({ method: 'HEAD', url: '/.well-known/jwks.json' })
  t.equal(response.statusCode, 200)
  t.equal(response.body, '')
  t.equal(response.headers['cache-control'], 'public, max-age=600')
})

t.test('a custom path', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore(), jwks: { path: '/keys' } })
  t.equal((await app.inject('/keys')).statusCode, 200)
  t.equal((await app.inject('/.well-known/jwks.json')).statusCode, 404)
})

t.test('never a private member nor a symmetric key, for every algorithm', async (t) => {
  for (const algorithm of SIGNING_ALGORITHMS) {
    const { app } = await buildProducer(t, { keyStore: memoryKeyStore(), algorithm })
    const { keys } = (await app.inject('/.well-known/jwks.json')).json() as { keys: Array<Record<string, string>> }
    for (const key of keys) {
      t.same(Object.keys(key).filter((member) => PRIVATE_MEMBERS.includes(member)), [], algorithm)
      t.not(key.kty, 'oct')
      t.equal(key.alg, algorithm)
      t.equal(key.kid, await keyIdOf(key))
    }
  }
})
