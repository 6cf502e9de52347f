import { generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { memoryKeyStore, readStoredKeys, type KeyStore, type StoredKeySet } from '@webhook-jwt/producer'
import { keyIdOf, toPublishedJwk } from '@webhook-jwt/protocol'
import { buildProducer, startupError } from './helpers/producer-app.ts'

// Every document here is one a producer wrote, then damaged the way a bad restore, a hand edit or an
// attacker with write access would: each must stop the producer at startup, with the reason.

async function validDocument (t: Parameters<typeof buildProducer>[0]): Promise<StoredKeySet> {
  const keyStore = memoryKeyStore()
  const { app } = await buildProducer(t, { keyStore, rotation: { every: false } })
  app.webhooks.rotate().catch(() => {})
  await new Promise((resolve) => app.webhooks.on('transition', resolve))
  await app.close()
  return await keyStore.read() as StoredKeySet
}

function storeHolding (document: unknown): KeyStore {
  return { description: 'fixture', read: async () => document as StoredKeySet, write: async () => { throw new Error('must not write') } }
}

async function startError (document: unknown): Promise<unknown> {
  return await startupError({ keyStore: storeHolding(document) })
}

t.test('damaged key sets are refused with the reason', async (t) => {
  const valid = await validDocument(t)
  const other = await validDocument(t)
  const weakRsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' })
  const weakKid = await keyIdOf(weakRsa)
  const exponent3 = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).privateKey.export({ format: 'jwk' })
  const exponent3Kid = await keyIdOf(exponent3)
  const rsaJwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })
  const rsaKid = await keyIdOf(rsaJwk)

  const damage: Array<[string, (doc: any) => unknown, RegExp]> = [
    ['not an object', () => 'text', /format is not/],
    ['negative revision', (doc) => ({ ...doc, revision: -1 }), /revision is not a whole number/],
    ['no keys array', (doc) => ({ ...doc, keys: {} }), /no keys array/],
    ['key not an object', (doc) => ({ ...doc, keys: [null] }), /keys\[0\] is not an object/],
    ['kid missing', (doc) => { delete doc.keys[0].kid; return doc }, /keys\[0\]\.kid is missing/],
    ['symmetric algorithm', (doc) => { doc.keys[0].alg = 'HS256'; return doc }, /alg is not a supported algorithm/],
    ['unknown state', (doc) => { doc.keys[0].state = 'paused'; return doc }, /keys\[0\]\.state is not a key state/],
    ['public key missing', (doc) => { delete doc.keys[0].publicJwk; return doc }, /publicJwk is missing/],
    ['public key unusable', (doc) => { doc.keys[0].publicJwk.x = 'AAAA'; return doc }, /publicJwk is not a usable public key/],
    ['symmetric public key', (doc) => { doc.keys[0].publicJwk = { kty: 'oct', k: 'c2VjcmV0' }; return doc }, /publicJwk is not a usable public key/],
    ['kid is not the thumbprint', (doc) => { doc.keys[0].kid = 'chosen-by-hand'; return doc }, /kid is not the RFC 7638 thumbprint/],
    ['RSA under 2048 bits', (doc) => ({ ...doc, keys: [{ ...doc.keys[0], kid: weakKid, alg: 'RS256', publicJwk: toPublishedJwk(weakRsa, { kid: weakKid, alg: 'RS256' }), privateKey: { format: 'jwk', jwk: weakRsa } }] }), /RSA key under 2048 bits or with an exponent other than 65537/],
    ['RSA exponent 3', (doc) => ({ ...doc, keys: [{ ...doc.keys[0], kid: exponent3Kid, alg: 'RS256', publicJwk: toPublishedJwk(exponent3, { kid: exponent3Kid, alg: 'RS256' }), privateKey: { format: 'jwk', jwk: exponent3 } }] }), /exponent other than 65537/],
    ['transitions not an array', (doc) => { doc.keys[0].transitions = 'x'; return doc }, /transitions is not an array/],
    ['transition without reason', (doc) => { doc.keys[0].transitions[0].reason = 'whim'; return doc }, /transitions\[0\] is malformed/],
    ['transition not an object', (doc) => { doc.keys[0].transitions[0] = 5; return doc }, /transitions\[0\] is malformed/],
    ['transition time', (doc) => { doc.keys[0].transitions[0].at = 'yesterday'; return doc }, /transitions\[0\]\.at is not an ISO 8601 time/],
    ['transition state', (doc) => { doc.keys[0].transitions[0].state = 'gone'; return doc }, /transitions\[0\]\.state is not a key state/],
    ['scheduled malformed', (doc) => { doc.keys[1].scheduled = 'soon'; return doc }, /keys\[1\]\.scheduled is malformed/],
    ['scheduled time', (doc) => { doc.keys[1].scheduled.at = 12; return doc }, /keys\[1\]\.scheduled\.at is not an ISO 8601 time/],
    ['retired key keeps its private half', (doc) => { doc.keys[0].state = 'retired'; return doc }, /retired but still holds a private key/],
    ['private key missing', (doc) => { doc.keys[0].privateKey = null; return doc }, /privateKey is neither a JWK nor an A256GCM-encrypted JWK/],
    ['private key format', (doc) => { doc.keys[0].privateKey = { format: 'pem', pem: '' }; return doc }, /neither a JWK nor/],
    ['private key unusable', (doc) => { doc.keys[0].privateKey.jwk.crv = 'P-999'; return doc }, /privateKey is not a usable private key/],
    ['private scalar replaced', (doc) => { doc.keys[0].privateKey.jwk.d = other.keys[0]?.privateKey?.format === 'jwk' ? other.keys[0].privateKey.jwk.d : ''; return doc }, /privateKey does not belong to its public key/],
    ['private key of another key', (doc) => { doc.keys[0].privateKey = other.keys[0]?.privateKey; return doc }, /privateKey does not belong to its public key/],
    ['duplicate kid', (doc) => ({ ...doc, keys: [doc.keys[0], doc.keys[0]] }), /two keys share a kid/],
    ['two active keys', (doc) => { doc.keys[1].state = 'active'; doc.keys[1].scheduled = null; doc.keys[1].transitions.push({ state: 'active', at: doc.keys[1].transitions[0].at, reason: 'rotation' }); return doc }, /more than one key is active/],
    ['two rotations in progress', (doc) => ({ ...doc, keys: [...doc.keys, { ...other.keys[0], state: 'retiring', scheduled: { state: 'retired', at: doc.keys[1].scheduled.at } }] }), /more than one rotation is in progress/],
    ['active key that never became active', (doc) => { doc.keys[0].transitions = []; return doc }, /keys\[0\] is active but never became active/],
    ['active key scheduled to retire', (doc) => { doc.keys[0].scheduled = { state: 'retired', at: doc.keys[1].scheduled.at }; return doc }, /keys\[0\] is active but its scheduled step is retired/],
    ['next key with nothing scheduled', (doc) => { doc.keys[1].scheduled = null; return doc }, /keys\[1\] is next but its scheduled step is none/],
    ['EC key labelled RS256', (doc) => { doc.keys[0].alg = 'RS256'; return doc }, /alg RS256 does not fit a P-256 key/],
    ['RSA key labelled ES256', (doc) => ({ ...doc, keys: [{ ...doc.keys[0], kid: rsaKid, alg: 'ES256', publicJwk: toPublishedJwk(rsaJwk, { kid: rsaKid, alg: 'ES256' }), privateKey: { format: 'jwk', jwk: rsaJwk } }] }), /alg ES256 does not fit a RSA key/]
  ]
  for (const [name, damageIt, reason] of damage) {
    const error = await startError(damageIt(structuredClone(valid)))
    t.match(error, { code: 'WEBHOOK_KEY_STORE_CORRUPT', message: reason }, name)
    t.match(error, { message: /^The key store fixture does not hold a valid key set/ })
  }
  t.equal(await startError(structuredClone(valid)), undefined, 'the undamaged document starts')
})

t.test('a store that cannot be read stops the start', async (t) => {
  t.match(await startError(new Proxy({}, {})), { code: 'WEBHOOK_KEY_STORE_CORRUPT' }, 'a non-document is corrupt')
  const keyStore: KeyStore = { description: 'broken', read: async () => { throw new Error('connection refused') }, write: async () => {} }
  t.match(await startupError({ keyStore }), { message: 'connection refused' })
})

t.test('readStoredKeys lists a store\'s keys without the key-encryption key, validated all the same', async (t) => {
  const keyStore = memoryKeyStore()
  t.equal(await readStoredKeys(keyStore), null, 'nothing stored yet')
  const { app } = await buildProducer(t, { keyStore, keyEncryptionKey: Buffer.alloc(32, 9), rotation: { every: false } })
  const status = app.webhooks.status()
  await app.close()
  const stored = await readStoredKeys(keyStore)
  t.same(stored, { revision: 1, keys: status.keys }, 'the same listing as status(), though the private key could not be opened')
  const document = await keyStore.read() as StoredKeySet
  const damaged = { ...document, keys: [{ ...document.keys[0], kid: 'not-its-thumbprint' }] }
  await t.rejects(readStoredKeys(storeHolding(damaged)), { code: 'WEBHOOK_KEY_STORE_CORRUPT', message: /kid is not the RFC 7638 thumbprint/ })
  await t.rejects(readStoredKeys(storeHolding({ ...document, keys: [{ ...document.keys[0], privateKey: { format: 'pem' } }] })), { code: 'WEBHOOK_KEY_STORE_CORRUPT', message: /privateKey is neither/ })
})
