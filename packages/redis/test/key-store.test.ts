import { randomBytes } from 'node:crypto'
import { createServer, type Socket } from 'node:net'
import t from 'tap'
import { Redis } from 'ioredis'
import type { StoredKeySet } from '@webhook-jwt/producer'
import { PrivateRedis, deleteKeys, redisOrSkip, uniquePrefix } from '../../../test/support/redis.ts'

// redisKeyStore against a real Redis server: the lease and its fence, the atomic revision check, the change
// channel, and what an unreachable or silent server does to each call.

const url = await redisOrSkip(t, 'redisKeyStore tests')
if (url !== null) {
  // Loaded only once a server answers, so that a machine without Redis reports a skip, not missing coverage.
  const { redisKeyStore, DEFAULT_KEY_STORE_PREFIX, DEFAULT_MAX_STALENESS } = await import('@webhook-jwt/redis')
  const { buildProducer, startupError, until } = await import('../../producer/test/helpers/producer-app.ts')
  const admin = new Redis(url)
  const prefixes: string[] = []
  t.teardown(async () => {
    for (const prefix of prefixes) await deleteKeys(url, prefix)
    await admin.quit()
  })
  const prefix = (name: string): string => {
    const chosen = uniquePrefix(name)
    prefixes.push(chosen)
    return chosen
  }
  const keySet = (revision: number, keys: StoredKeySet['keys'] = []): StoredKeySet => ({ format: 'webhook-jwt/key-set@1', revision, keys })
  const plainKey = { kid: 'k', alg: 'ES256', state: 'active', publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k', alg: 'ES256', use: 'sig' }, privateKey: { format: 'jwk', jwk: {} }, transitions: [], scheduled: null } as unknown as StoredKeySet['keys'][number]

  t.test('defaults and what the producer reads off the store', async (t) => {
    const store = redisKeyStore({ connection: url })
    t.teardown(() => store.close?.())
    t.equal(store.description, `redis ${DEFAULT_KEY_STORE_PREFIX}`)
    t.equal(store.maxStaleness, DEFAULT_MAX_STALENESS)
    t.equal(store.requiresEncryption, true)
  })

  t.test('the lease is exclusive, its fence grows, and only its holder releases it', async (t) => {
    const options = { connection: url, prefix: prefix('lease') }
    const one = redisKeyStore(options)
    const two = redisKeyStore(options)
    t.teardown(async () => { await one.close?.(); await two.close?.() })
    const first = await one.lease?.()
    t.ok(first)
    t.equal(await two.lease?.(), null, 'held')
    await first?.release()
    const second = await two.lease?.()
    t.ok(second !== null && second !== undefined && first !== null && first !== undefined && second.fence > first.fence, 'the next grant has a higher fence')
    await first?.release()
    t.equal(await one.lease?.(), null, 'a stale holder cannot release the current lease')
    await second?.release()
  })

  t.test('writes: under the current lease only, against the expected revision, and never a plain private key', async (t) => {
    const options = { connection: url, prefix: prefix('write'), leaseTtl: 1 }
    const store = redisKeyStore(options)
    const other = redisKeyStore(options)
    t.teardown(async () => { await store.close?.(); await other.close?.() })
    t.equal(await store.read(), null)
    await t.rejects(store.write(keySet(1), null), { code: 'WEBHOOK_KEY_STORE_FENCED' }, 'no lease, no write')
    const lease = await store.lease?.() ?? undefined
    await store.write(keySet(1), null, lease)
    t.same(await other.read(), keySet(1))
    await t.rejects(store.write(keySet(2), null, lease), { code: 'WEBHOOK_KEY_STORE_CONFLICT' })
    await store.write(keySet(2), 1, lease)
    await t.rejects(store.write(keySet(3, [plainKey]), 2, lease), { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /not encrypted/ })
    // The holder pauses past its lease; another replica takes it: the paused holder's step is refused.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const taken = await other.lease?.() ?? undefined
    await t.rejects(store.write(keySet(3), 2, lease), { code: 'WEBHOOK_KEY_STORE_FENCED' })
    await other.write(keySet(3), 2, taken)
    t.equal((await store.read())?.revision, 3)
  })

  t.test('a set that is not a key set is refused as corrupt, never overwritten', async (t) => {
    const chosen = prefix('corrupt')
    const store = redisKeyStore({ connection: url, prefix: chosen })
    t.teardown(() => store.close?.())
    await admin.set(`${chosen}set`, '{not json')
    await t.rejects(store.read(), { code: 'WEBHOOK_KEY_STORE_CORRUPT', message: /not valid JSON/ })
    await admin.set(`${chosen}set`, '{"keys":[]}')
    await t.rejects(store.read(), { code: 'WEBHOOK_KEY_STORE_CORRUPT', message: /no revision number/ })
  })

  t.test('watch: told of every write, and once more on every (re)subscription; unwatch stops it', async (t) => {
    const options = { connection: url, prefix: prefix('watch') }
    const writer = redisKeyStore(options)
    const watcher = redisKeyStore(options)
    t.teardown(async () => { await writer.close?.(); await watcher.close?.() })
    let told = 0
    const unwatch = watcher.watch?.(() => { told++ }) as () => void
    await until(() => told === 1, 5000)
    const lease = await writer.lease?.() ?? undefined
    await writer.write(keySet(1), null, lease)
    await until(() => told === 2, 5000)
    unwatch()
    await writer.write(keySet(2), 1, lease)
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.equal(told, 2)
    watcher.watch?.(() => {})
  })

  t.test('an adopted client is left open; a store-opened one is closed', async (t) => {
    const client = new Redis(url)
    t.teardown(() => client.quit())
    const store = redisKeyStore({ connection: client, prefix: prefix('adopted') })
    t.equal(await store.read(), null)
    await store.close?.()
    t.equal(await client.ping(), 'PONG')
    const owned = redisKeyStore({ connection: { host: '127.0.0.1', port: Number(new URL(url).port || 6379) }, prefix: prefix('owned') })
    t.equal(await owned.read(), null)
    await owned.close?.()
  })

  t.test('an unreachable server, and one that never answers: each call fails within commandTimeout', async (t) => {
    const server = await PrivateRedis.start()
    t.teardown(() => server.stop())
    const store = redisKeyStore({ connection: server.url, prefix: 'down:', commandTimeout: '300ms' })
    t.teardown(() => store.close?.())
    t.equal(await store.read(), null)
    await server.down('kill')
    const started = Date.now()
    await t.rejects(store.read(), { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /reading the key set/ })
    await t.rejects(store.lease?.() as Promise<unknown>, { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /taking the step lease/ })
    t.ok(Date.now() - started < 2000, 'no call waits for the server to come back')
    await server.up()
    await until(async () => await store.read().then(() => true, () => false), 10_000)
    t.pass('back once the server is')

    const sockets = new Set<Socket>()
    const silent = createServer((socket) => { sockets.add(socket) })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { for (const socket of sockets) socket.destroy(); silent.close() })
    const mute = redisKeyStore({ connection: `redis://127.0.0.1:${(silent.address() as { port: number }).port}`, commandTimeout: '200ms' })
    t.teardown(() => mute.close?.())
    const before = Date.now()
    await t.rejects(mute.read(), { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /took longer than 200 ms/ })
    t.ok(Date.now() - before < 1000)
  })

  t.test('options are checked, each error naming its option', async (t) => {
    const cases: Array<[unknown, string]> = [
      [null, 'redisKeyStore'],
      [{ connection: 'http://redis' }, 'redisKeyStore.connection'],
      [{ connection: 42 }, 'redisKeyStore.connection'],
      [{ connection: url, prefix: '' }, 'redisKeyStore.prefix'],
      [{ connection: url, maxStaleness: 0.5 }, 'redisKeyStore.maxStaleness'],
      [{ connection: url, leaseTtl: 'soon' }, 'redisKeyStore.leaseTtl'],
      [{ connection: url, commandTimeout: 0 }, 'redisKeyStore.commandTimeout']
    ]
    for (const [options, option] of cases) {
      t.throws(() => redisKeyStore(options as never), { name: 'WebhookOptionError', option }, option)
    }
  })

  t.test('producers on one Redis: the same keys on both; no keyEncryptionKey, or another one, and a replica refuses to start', async (t) => {
    const kek = randomBytes(32).toString('base64url')
    const chosen = prefix('producers')
    const store = (): ReturnType<typeof redisKeyStore> => redisKeyStore({ connection: url, prefix: chosen, maxStaleness: 1 })
    const windows = { tokenTtl: 1, clockSkew: 0, jwks: { maxAge: 1 }, rotation: { every: false as const } }
    t.match(await startupError({ ...windows, keyStore: store() }), { code: 'WEBHOOK_INVALID_OPTION', option: 'keyEncryptionKey' })
    const a = await buildProducer(t, { ...windows, keyStore: store(), keyEncryptionKey: kek })
    const b = await buildProducer(t, { ...windows, keyStore: store(), keyEncryptionKey: kek })
    t.equal(b.app.webhooks.status().activeKid, a.app.webhooks.status().activeKid)
    t.match(await startupError({ ...windows, keyStore: store(), keyEncryptionKey: randomBytes(32) }), { code: 'WEBHOOK_KEY_DECRYPTION_FAILED' })
    const stored = JSON.parse(await admin.get(`${chosen}set`) as string) as StoredKeySet
    t.equal(stored.keys[0]?.privateKey?.format, 'A256GCM', 'encrypted at rest')
    const rotation = a.app.webhooks.rotate()
    await until(() => b.app.webhooks.status().rotationInProgress, 5000)
    const { activeKid } = await rotation
    await until(() => b.app.webhooks.status().activeKid === activeKid && !b.app.webhooks.status().rotationInProgress, 10_000)
    t.pass('the other replica followed the whole rotation')
  })
}
