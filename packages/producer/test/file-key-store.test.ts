import { chmodSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { fileKeyStore, type StoredKeySet } from '@webhook-jwt/producer'
import { AUDIENCE, buildProducer, publishedKids, startupError, until } from './helpers/producer-app.ts'

const KEK = Buffer.alloc(32, 7)

async function startError (path: string, options: Record<string, unknown> = {}): Promise<unknown> {
  return await startupError({ keyStore: fileKeyStore({ path }), ...options })
}

t.test('the first start writes the key file with mode 0600, atomically, and a restart keeps the same keys', async (t) => {
  const folder = t.testdir()
  const path = join(folder, 'nested', 'keys.json')
  const { app } = await buildProducer(t, { keyStore: fileKeyStore({ path }) })
  const kid = app.webhooks.status().activeKid
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.equal(statSync(join(folder, 'nested')).mode & 0o777, 0o700)
  t.same(readdirSync(join(folder, 'nested')), ['keys.json'], 'no temporary file is left behind')
  const stored = JSON.parse(readFileSync(path, 'utf8')) as StoredKeySet
  t.match(stored, { format: 'webhook-jwt/key-set@1', revision: 1, keys: [{ kid, state: 'active', privateKey: { format: 'jwk', jwk: { d: String } } }] })
  await app.close()
  const { app: restarted } = await buildProducer(t, { keyStore: fileKeyStore({ path }) })
  t.equal(restarted.webhooks.status().activeKid, kid, 'a restart never replaces a published key')
  t.equal(JSON.parse(readFileSync(path, 'utf8')).revision, 1, 'and does not rewrite an unchanged set')
})

t.test('a file anyone but its owner can read or change is refused', async (t) => {
  for (const mode of [0o644, 0o640, 0o604, 0o620, 0o606, 0o610]) {
    const path = join(t.testdir(), 'keys.json')
    const { app } = await buildProducer(t, { keyStore: fileKeyStore({ path }) })
    await app.close()
    chmodSync(path, mode)
    const before = readFileSync(path, 'utf8')
    t.match(await startError(path), { code: 'WEBHOOK_KEY_STORE_INSECURE', message: new RegExp(`mode 0${mode.toString(8)}.*chmod 600`) }, mode.toString(8))
    t.equal(readFileSync(path, 'utf8'), before, 'left untouched')
  }
})

t.test('a corrupt file is a startup error and is never regenerated', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['{"keys": [', /not valid JSON/],
    ['null', /no revision number/],
    ['{"format":"webhook-jwt/key-set@1","keys":[]}', /no revision number/],
    ['{"format":"other","revision":1,"keys":[]}', /format is not webhook-jwt\/key-set@1/]
  ]
  for (const [content, reason] of cases) {
    const path = join(t.testdir(), 'keys.json')
    writeFileSync(path, content, { mode: 0o600 })
    t.match(await startError(path), { code: 'WEBHOOK_KEY_STORE_CORRUPT', statusCode: 500, message: reason }, content)
    t.equal(readFileSync(path, 'utf8'), content, 'left untouched')
  }
})

t.test('a write that cannot complete is an error and leaves no temporary file', async (t) => {
  const folder = t.testdir({ blocker: 'not a folder' })
  const blocked = fileKeyStore({ path: join(folder, 'blocker', 'keys.json') })
  await t.rejects(blocked.write({ format: 'webhook-jwt/key-set@1', revision: 1, keys: [] }, null), { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /EEXIST/ })
  // A folder that is a dangling link reads as empty (ENOENT), so the failure comes from the write itself.
  symlinkSync(join(folder, 'gone'), join(folder, 'dangling'))
  const dangling = fileKeyStore({ path: join(folder, 'dangling', 'keys.json') })
  t.equal(await dangling.read(), null)
  await t.rejects(dangling.write({ format: 'webhook-jwt/key-set@1', revision: 1, keys: [] }, null), { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /ENOENT/ })
  t.same(readdirSync(folder).sort(), ['blocker', 'dangling'])
})

t.test('a restart reads back keys of every algorithm', async (t) => {
  for (const algorithm of ['ES256', 'EdDSA', 'ES384', 'RS256', 'PS256'] as const) {
    const path = join(t.testdir(), 'keys.json')
    const { app } = await buildProducer(t, { keyStore: fileKeyStore({ path }), algorithm })
    const kid = app.webhooks.status().activeKid
    await app.close()
    const { app: restarted } = await buildProducer(t, { keyStore: fileKeyStore({ path }), algorithm })
    t.equal(restarted.webhooks.status().activeKid, kid, algorithm)
    t.equal((await restarted.webhooks.sign({}, { audience: AUDIENCE })).kid, kid)
    // The next algorithm reuses the folder: a producer still watching it would put back the file it held.
    await restarted.close()
  }
})

t.test('a write against a stale revision is a conflict', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const store = fileKeyStore({ path })
  await store.write({ format: 'webhook-jwt/key-set@1', revision: 1, keys: [] }, null)
  await t.rejects(store.write({ format: 'webhook-jwt/key-set@1', revision: 2, keys: [] }, null), { code: 'WEBHOOK_KEY_STORE_CONFLICT', statusCode: 409 })
  await store.write({ format: 'webhook-jwt/key-set@1', revision: 2, keys: [] }, 1)
  t.equal((await store.read())?.revision, 2)
})

t.test('fileKeyStore needs a path', async (t) => {
  t.throws(() => fileKeyStore({ path: '' }), { code: 'WEBHOOK_INVALID_OPTION', option: 'fileKeyStore.path' })
  t.throws(() => fileKeyStore(undefined as never), { code: 'WEBHOOK_INVALID_OPTION' })
})

t.test('private keys encrypted at rest with the key-encryption key', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const { app } = await buildProducer(t, { keyStore: fileKeyStore({ path }), keyEncryptionKey: KEK })
  const kid = app.webhooks.status().activeKid
  await app.webhooks.sign({}, { audience: AUDIENCE })
  await app.close()
  const text = readFileSync(path, 'utf8')
  t.notMatch(text, /"d"/, 'no private member in clear')
  t.match(JSON.parse(text), { keys: [{ privateKey: { format: 'A256GCM', iv: String, tag: String, ciphertext: String } }] })

  t.match(await startError(path), { code: 'WEBHOOK_KEY_DECRYPTION_FAILED', message: /encrypted at rest; configure the keyEncryptionKey/ })
  t.match(await startError(path, { keyEncryptionKey: Buffer.alloc(32, 8) }), { code: 'WEBHOOK_KEY_DECRYPTION_FAILED', message: /not the one it was encrypted with/ })
  const { app: restarted } = await buildProducer(t, { keyStore: fileKeyStore({ path }), keyEncryptionKey: KEK.toString('base64url') })
  t.equal(restarted.webhooks.status().activeKid, kid)
})

t.test('an encrypted key moved onto another key record does not decrypt', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const { app } = await buildProducer(t, { keyStore: fileKeyStore({ path }), keyEncryptionKey: KEK })
  await app.close()
  const stored = JSON.parse(readFileSync(path, 'utf8')) as StoredKeySet
  const donor = (await buildOther(t, KEK)).keys[0]
  const target = stored.keys[0]
  if (target === undefined || donor === undefined) throw new Error('fixture')
  target.privateKey = donor.privateKey
  writeFileSync(path, JSON.stringify(stored), { mode: 0o600 })
  t.match(await startError(path, { keyEncryptionKey: KEK }), { code: 'WEBHOOK_KEY_DECRYPTION_FAILED' })
})

async function buildOther (t: Parameters<typeof buildProducer>[0], kek: Buffer): Promise<StoredKeySet> {
  const path = join((t as unknown as { testdir(): string }).testdir(), 'other.json')
  const { app } = await buildProducer(t, { keyStore: fileKeyStore({ path }), keyEncryptionKey: kek })
  await app.close()
  return JSON.parse(readFileSync(path, 'utf8')) as StoredKeySet
}

t.test('plain keys are encrypted once a key-encryption key is configured', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const { app } = await buildProducer(t, { keyStore: fileKeyStore({ path }) })
  await app.webhooks.revoke(app.webhooks.status().activeKid)
  const kid = app.webhooks.status().activeKid
  await app.close()
  t.match(readFileSync(path, 'utf8'), /"d"/)
  const { app: restarted, logs } = await buildProducer(t, { keyStore: fileKeyStore({ path }), keyEncryptionKey: KEK })
  t.equal(restarted.webhooks.status().activeKid, kid)
  t.notMatch(readFileSync(path, 'utf8'), /"d"/)
  t.ok(logs.some((line) => line.msg === 'webhook signing keys encrypted at rest with the configured keyEncryptionKey' && line.keys === 1), 'the retired key has nothing to encrypt')
})

t.test('a step another process stores in the file is read, served and scheduled at once', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const windows = { tokenTtl: 1, clockSkew: 0.5, jwks: { maxAge: 1 }, rotation: { every: false as const } }
  const { app: running, transitions: runningSaw } = await buildProducer(t, { keyStore: fileKeyStore({ path }), ...windows })
  const oldKid = running.webhooks.status().activeKid
  // The other writer, as `webhook-jwt keys rotate` is: the producer's own code on the same file.
  const { app: operator, transitions: operatorSaw } = await buildProducer(t, { keyStore: fileKeyStore({ path }), ...windows })
  const rotation = operator.webhooks.rotate()
  await until(() => operatorSaw.length > 0)
  const newKid = (operatorSaw[0] as { kid: string }).kid
  await until(async () => (await publishedKids(running)).includes(newKid), 2000)
  t.equal(running.webhooks.status().activeKid, oldKid, 'published first: the running producer still signs with the old key')
  // Awaited on ref'd timers: the producers' own step timers do not keep the process alive.
  await until(() => running.webhooks.status().keys.find((key) => key.kid === oldKid)?.state === 'retired', 5000)
  t.same(await rotation, { previousKid: oldKid, activeKid: newKid })
  t.equal(running.webhooks.status().activeKid, newKid)
  const applied = [...runningSaw, ...operatorSaw].filter((event) => event.kid === newKid && event.to === 'active')
  t.equal(applied.length, 1, 'the switch was applied once, by one of the two')
  t.equal(JSON.parse(readFileSync(path, 'utf8')).revision, 4, 'bootstrap, publish, switch, retire: one write each')
})

t.test('a folder that cannot be watched leaves the store working without notifications', async (t) => {
  const store = fileKeyStore({ path: join(t.testdir(), 'missing', 'keys.json') })
  const stop = (store.watch as (onChange: () => void) => () => void)(() => t.fail('no change can be seen'))
  stop()
  t.equal(await store.read(), null)
})
