import { createServer, type Socket } from 'node:net'
import t from 'tap'
import { PrivateRedis, deleteKeys, freePort, redisOrSkip, uniquePrefix } from '../../../test/support/redis.ts'

// The Redis replay store against a real server. Without one, the file skips itself before loading the store.
const url = await redisOrSkip(t, 'redisReplayStore tests')
if (url !== null) {
  const { Redis } = await import('ioredis')
  const { WebhookOptionError } = await import('@webhook-jwt/protocol')
  const { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_REPLAY_PREFIX, MAX_PLAIN_KEY_LENGTH, redisReplayStore } = await import('@webhook-jwt/redis')
  type Store = ReturnType<typeof redisReplayStore>

  // One client of the test's own, to look at what the stores wrote; every key it touches carries a test prefix.
  const inspector = new Redis(url)
  t.teardown(() => inspector.quit())
  const prefixes: string[] = []
  t.teardown(async () => {
    for (const prefix of prefixes) await deleteKeys(url, prefix)
  })

  const newPrefix = (name: string): string => {
    const prefix = uniquePrefix(`replay-store:${name}`)
    prefixes.push(prefix)
    return prefix
  }
  const storeFor = (t: { teardown(fn: () => unknown): void }, prefix: string, options: Record<string, unknown> = {}): Store => {
    const store = redisReplayStore({ connection: url, prefix, ...options })
    t.teardown(() => store.close())
    return store
  }
  const inMs = (ms: number): number => Date.now() + ms

  /** How long `promise` takes to settle, and whether it was rejected with a message matching `message`. */
  async function timed (promise: Promise<unknown>): Promise<{ ms: number, error: Error | undefined }> {
    const started = Date.now()
    try {
      await promise
      return { ms: Date.now() - started, error: undefined }
    } catch (error) {
      return { ms: Date.now() - started, error: error as Error }
    }
  }

  t.test('a key is accepted the first time only, and kept for its remaining life plus commandTimeout (PX), under the prefix', async (t) => {
    const prefix = newPrefix('first')
    const store = storeFor(t, prefix)
    const nowMs = Date.now()
    const expiresAt = nowMs + 60_000.25
    t.equal(await store.remember('["https://sender.test","jti-1"]', expiresAt, nowMs), true)
    t.equal(await store.remember('["https://sender.test","jti-1"]', expiresAt, nowMs), false, 'the second time is a replay')
    t.equal(await store.remember('["https://sender.test","jti-2"]', expiresAt, nowMs), true, 'another key is not')
    t.equal(await inspector.get(`${prefix}["https://sender.test","jti-1"]`), '1')
    const life = await inspector.pttl(`${prefix}["https://sender.test","jti-1"]`)
    t.ok(life <= 61_001 && life > 60_001, `kept 60 000.25 ms rounded up, plus the 1 s commandTimeout, counted from when it was written (${life} ms left)`)
    t.equal(DEFAULT_REPLAY_PREFIX, 'webhook-jwt:replay:')
  })

  t.test('a key\'s life is counted by Redis from when it records the key, whatever the caller\'s clock reads', async (t) => {
    const prefix = newPrefix('relative')
    const store = storeFor(t, prefix)
    t.equal(await store.remember('k', 60_000, 0), true, 'a caller whose clock reads the epoch: 60 s to live')
    const life = await inspector.pttl(`${prefix}k`)
    t.ok(life <= 61_000 && life > 60_000, `kept 60 s plus commandTimeout, not until 1970 (${life} ms left)`)
    t.equal(await store.remember('k', 60_000, 0), false, 'and refused meanwhile')
    t.equal(await store.remember('default-now', inMs(5000)), true, 'without nowMs, it is Date.now()')
    t.ok(await inspector.pttl(`${prefix}default-now`) > 5000)
  })

  t.test('a key already expired when it comes is refused, without a call, and not recorded', async (t) => {
    const prefix = newPrefix('expired')
    const store = storeFor(t, prefix)
    const nowMs = Date.now()
    t.equal(await store.remember('k', nowMs, nowMs), false, 'expiring at the instant it would be recorded')
    t.equal(await store.remember('k', nowMs - 1, nowMs), false, 'expired before')
    t.equal(await inspector.exists(`${prefix}k`), 0, 'nothing was written')
    const unreachable = storeFor(t, newPrefix('expired-unreachable'), { connection: `redis://127.0.0.1:${await freePort()}` })
    t.equal(await unreachable.remember('k', nowMs, nowMs), false, 'no call is made: even a store that cannot reach Redis answers')
  })

  t.test('a call checked an instant before the expiry that reaches Redis after it still finds the key: the commandTimeout margin', async (t) => {
    const store = storeFor(t, newPrefix('margin'), { commandTimeout: '300ms' })
    const checkedAt = Date.now()
    t.equal(await store.remember('k', checkedAt + 20, checkedAt), true, 'recorded 20 ms before its expiry')
    await new Promise((resolve) => setTimeout(resolve, 120))
    t.equal(await store.remember('k', checkedAt + 20, checkedAt + 19), false, 'a concurrent call, checked 1 ms before the expiry and arriving 100 ms after it, is a replay')
  })

  t.test('the default prefix is webhook-jwt:replay:', async (t) => {
    const store = redisReplayStore({ connection: url })
    t.teardown(() => store.close())
    const key = uniquePrefix('default-prefix')
    t.teardown(() => inspector.del(`webhook-jwt:replay:${key}`))
    t.equal(await store.remember(key, inMs(5000), Date.now()), true)
    t.equal(await inspector.exists(`webhook-jwt:replay:${key}`), 1)
  })

  t.test('an expired key is accepted again: not before its expiry and the commandTimeout margin, and soon after', async (t) => {
    const store = storeFor(t, newPrefix('expiry'), { commandTimeout: '100ms' })
    const expiresAt = inMs(200)
    t.equal(await store.remember('short', expiresAt, Date.now()), true)
    const keptUntil = expiresAt + 100
    let refusals = 0
    while (Date.now() < keptUntil - 30) {
      t.equal(await store.remember('short', inMs(5000), Date.now()), false, 'refused while it lives')
      refusals++
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    t.ok(refusals >= 3, `checked ${refusals} times before the expiry`)
    const deadline = inMs(1000)
    let accepted = false
    while (!accepted && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      accepted = await store.remember('short', inMs(5000), Date.now())
    }
    t.ok(accepted, 'accepted again within a second of its expiry')
    t.ok(Date.now() >= keptUntil, 'and not before it and the margin')
  })

  t.test('forget drops a key: it is accepted again; forgetting an absent key is fine', async (t) => {
    const store = storeFor(t, newPrefix('forget'))
    t.equal(await store.remember('k', inMs(60_000), Date.now()), true)
    await store.forget('k')
    t.equal(await store.remember('k', inMs(60_000), Date.now()), true)
    t.equal(await store.remember('k', inMs(60_000), Date.now()), false)
    await t.resolves(store.forget('never-remembered'))
  })

  t.test('two stores on separate connections share what they remember, as replicas do', async (t) => {
    const prefix = newPrefix('shared')
    const [replicaA, replicaB] = [storeFor(t, prefix), storeFor(t, prefix, { connection: { host: '127.0.0.1', port: Number(new URL(url).port || 6379) } })]
    t.equal(await replicaA.remember('jti', inMs(60_000), Date.now()), true)
    t.equal(await replicaB.remember('jti', inMs(60_000), Date.now()), false, 'the other replica refuses it')
    await replicaB.forget('jti')
    t.equal(await replicaA.remember('jti', inMs(60_000), Date.now()), true, 'and sees what the other forgot')
    const racing = await Promise.all(Array.from({ length: 20 }, async (_, index) => await (index % 2 === 0 ? replicaA : replicaB).remember('raced', inMs(60_000), Date.now())))
    t.equal(racing.filter(Boolean).length, 1, 'of 20 concurrent attempts on two replicas, exactly one is accepted')
    t.equal(await storeFor(t, newPrefix('other')).remember('jti', inMs(60_000), Date.now()), true, 'another prefix is another store')
  })

  t.test('long keys, and keys that look hashed, are stored as their SHA-256', async (t) => {
    const prefix = newPrefix('hashed')
    const store = storeFor(t, prefix)
    const long = `["https://sender.test","${'j'.repeat(MAX_PLAIN_KEY_LENGTH)}"]`
    t.equal(await store.remember(long, inMs(60_000), Date.now()), true)
    t.equal(await store.remember(long, inMs(60_000), Date.now()), false)
    t.equal(await store.remember(`${long}x`, inMs(60_000), Date.now()), true, 'another long key is another key')
    t.equal(await store.remember('#short', inMs(60_000), Date.now()), true)
    t.equal(await store.remember('#short', inMs(60_000), Date.now()), false)
    const keys = (await inspector.keys(`${prefix}*`)).map((key) => key.slice(prefix.length)).sort()
    t.equal(keys.length, 3)
    t.ok(keys.every((key) => /^#[\w-]{43}$/.test(key)), 'each is # and a base64url digest')
    await store.forget(long)
    t.equal(await store.remember(long, inMs(60_000), Date.now()), true, 'forget finds the hashed key')
  })

  t.test('options are checked when the store is made, naming the option', async (t) => {
    const cases: Array<[unknown, string, RegExp]> = [
      [undefined, 'redisReplayStore.connection', /redis:\/\/ or rediss:\/\/ URL, ioredis options, or an ioredis client \(got undefined\)/],
      [{}, 'redisReplayStore.connection', /got undefined/],
      [{ connection: 'http://127.0.0.1:6379' }, 'redisReplayStore.connection', /got "http:\/\/127.0.0.1:6379"/],
      [{ connection: 6379 }, 'redisReplayStore.connection', /got 6379/],
      [{ connection: url, prefix: '' }, 'redisReplayStore.prefix', /non-empty string/],
      [{ connection: url, prefix: 5 }, 'redisReplayStore.prefix', /got 5/],
      [{ connection: url, commandTimeout: -1 }, 'redisReplayStore.commandTimeout', /duration/],
      [{ connection: url, commandTimeout: 'soon' }, 'redisReplayStore.commandTimeout', /duration/],
      [{ connection: url, commandTimeout: 0 }, 'redisReplayStore.commandTimeout', /more than 0/],
      [5, 'redisReplayStore', /must be an object/]
    ]
    for (const [options, option, message] of cases) {
      t.throws(() => redisReplayStore(options as never), { code: 'WEBHOOK_INVALID_OPTION', option, message }, `${option}: ${message.source}`)
    }
    t.throws(() => redisReplayStore({ connection: 'ftp://x' }), WebhookOptionError)
    t.equal(DEFAULT_COMMAND_TIMEOUT_MS, 1000)
  })

  t.test('an expiry that is not a time is refused, not stored', async (t) => {
    const store = storeFor(t, newPrefix('nan'))
    await t.rejects(store.remember('k', Number.NaN, Date.now()), { name: 'TypeError', message: /expiresAtMs/ })
    await t.rejects(store.remember('k', inMs(5000), Number.NaN), { name: 'TypeError', message: /nowMs must be a time in milliseconds \(got NaN\)/ })
    t.equal(await store.remember('k', inMs(5000), Date.now()), true)
  })

  t.test('commandTimeout bounds a call on a server that accepts connections and never answers', async (t) => {
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => { sockets.add(socket) })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    t.teardown(async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    })
    const silentUrl = `redis://127.0.0.1:${(silent.address() as { port: number }).port}`
    const owned = redisReplayStore({ connection: silentUrl, commandTimeout: '200ms' })
    const first = await timed(owned.remember('k', inMs(5000), Date.now()))
    t.match(first.error, { message: 'redisReplayStore.remember took longer than 200 ms' })
    t.ok(first.ms >= 190 && first.ms < 1000, `rejected after ${first.ms} ms`)
    const forget = await timed(owned.forget('k'))
    t.ok(forget.error !== undefined && forget.ms < 1000, `forget too: ${forget.ms} ms, ${forget.error?.message}`)
    const closed = await timed(owned.close())
    t.ok(closed.error === undefined && closed.ms < 190, `close dropped the connection that never became ready, without waiting for QUIT (${closed.ms} ms)`)

    // A client of yours keeps its own settings (here ioredis' default offline queue): the bound still holds.
    const client = new Redis(silentUrl, { lazyConnect: true, maxRetriesPerRequest: null })
    client.on('error', () => {})
    t.teardown(() => client.disconnect())
    const adopted = redisReplayStore({ connection: client, commandTimeout: 0.2 })
    const queued = await timed(adopted.remember('k', inMs(5000), Date.now()))
    t.match(queued.error, { message: /took longer than 200 ms/ })
    t.ok(queued.ms >= 190 && queued.ms < 1000, `rejected after ${queued.ms} ms`)
  })

  t.test('an unreachable server: calls fail at once, well inside the bound, and keep failing fast', async (t) => {
    const store = redisReplayStore({ connection: `redis://127.0.0.1:${await freePort()}`, commandTimeout: 2 })
    t.teardown(() => store.close())
    for (const attempt of ['connecting', 'reconnecting']) {
      const result = await timed(store.remember('k', inMs(5000), Date.now()))
      t.ok(result.error !== undefined, `${attempt}: rejected (${result.error?.message})`)
      t.ok(result.ms < 1000, `${attempt}: after ${result.ms} ms, not the 2 s bound`)
    }
  })

  t.test('Redis stopped and restarted: calls fail fast while it is down, then succeed; what was remembered is still refused', async (t) => {
    const redis = await PrivateRedis.start()
    t.teardown(() => redis.stop())
    const store = redisReplayStore({ connection: redis.url, prefix: DEFAULT_REPLAY_PREFIX, commandTimeout: '1500ms' })
    t.teardown(() => store.close())
    t.equal(await store.remember('before', inMs(60_000), Date.now()), true)
    await redis.down('kill')
    const down = await timed(store.remember('during', inMs(60_000), Date.now()))
    t.ok(down.error !== undefined, `rejected while down: ${down.error?.message}`)
    t.ok(down.ms < 1500, `after ${down.ms} ms, within the bound`)
    await redis.up()
    const deadline = inMs(5000)
    let back: boolean | undefined
    while (back === undefined && Date.now() < deadline) {
      back = await store.remember('after', inMs(60_000), Date.now()).catch(async () => await new Promise((resolve) => setTimeout(resolve, 50)).then(() => undefined))
    }
    t.equal(back, true, 'a new key is accepted once Redis is back (within 5 s)')
    t.equal(await store.remember('before', inMs(60_000), Date.now()), false, 'the key remembered before the restart is still refused (append-only file)')
  })

  t.test('close: a store closes the client it opened, once, and leaves a client of yours open', async (t) => {
    const owned = storeFor(t, newPrefix('close'))
    t.equal(await owned.remember('k', inMs(5000), Date.now()), true)
    await owned.close()
    await owned.close()
    await t.rejects(owned.remember('k', inMs(5000), Date.now()), { message: /the store is closed/ })
    await t.rejects(owned.forget('k'), { message: /the store is closed/ })

    await t.resolves(redisReplayStore({ connection: url }).close(), 'a store never used closes without connecting for good')

    const client = new Redis(url)
    t.teardown(() => client.quit())
    const prefix = newPrefix('adopted')
    const adopted = redisReplayStore({ connection: client, prefix })
    t.equal(await adopted.remember('k', inMs(5000), Date.now()), true)
    await adopted.close()
    t.equal(client.status, 'ready', 'your client stays open')
    t.equal(await client.exists(`${prefix}k`), 1)
  })

  t.test('close while Redis is down does not hang', async (t) => {
    const redis = await PrivateRedis.start()
    t.teardown(() => redis.stop())
    const store = redisReplayStore({ connection: redis.url })
    t.equal(await store.remember('k', inMs(5000), Date.now()), true)
    await redis.down('kill')
    const closed = await timed(store.close())
    t.equal(closed.error, undefined)
    t.ok(closed.ms < 1000, `closed in ${closed.ms} ms`)
  })
}
