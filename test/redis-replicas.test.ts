import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { Redis } from 'ioredis'
import type { StoredKeySet } from '@webhook-jwt/producer'
import { PrivateRedis, redisOrSkip } from './support/redis.ts'

// Two producer replicas and two consumer replicas, each a Fastify instance with its own Redis connections,
// under continuous traffic through at least three rotations, with Redis restarted in the middle. The
// producers share a redisKeyStore and serve their JWKS behind one round-robin address; the consumers share a
// redisReplayStore. Every delivery must verify (a 503 while Redis is away is retried, as a sender does), every
// replay to the other consumer must be refused, and every rotation step must be applied once.

const KEK = randomBytes(32).toString('base64url')
const AUDIENCE = 'https://receiver.test/hooks'
const ISSUER = 'https://sender.test'
// maxAge 1 + skew 0.5 + maxStaleness 1 → publishLead 2.5 s; ttl 2 + skew 0.5 + maxStaleness 1 → retireAfter 3.5 s;
// a key signs for 6 s, the shortest period those allow, so the third rotation retires its key about 21.5 s in.
const WINDOWS = { tokenTtl: 2, clockSkew: 0.5, jwks: { maxAge: 1 }, rotation: { every: 6 } }
const MAX_STALENESS = 1
const ROTATIONS = 3

const shared = await redisOrSkip(t, 'Redis replica scenarios')
if (shared !== null) {
  const { default: Fastify } = await import('fastify')
  const { default: producer } = await import('@webhook-jwt/producer')
  const { default: consumer } = await import('@webhook-jwt/consumer')
  const { redisKeyStore, redisReplayStore } = await import('@webhook-jwt/redis')
  const { startJwksProxy } = await import('./support/webhook-pair.ts')

  t.test('2 producers + 2 consumers on one Redis, through three rotations and a Redis restart', async (t) => {
    // A server of the test's own, so that it can be restarted without touching the shared one.
    const redis = await PrivateRedis.start()
    t.teardown(() => redis.stop())

    const producers = await Promise.all(['a', 'b'].map(async () => {
      const app = Fastify()
      t.teardown(() => app.close())
      await app.register(producer, { issuer: ISSUER, ...WINDOWS, keyEncryptionKey: KEK, keyStore: redisKeyStore({ connection: redis.url, maxStaleness: MAX_STALENESS }) })
      await app.listen({ port: 0, host: '127.0.0.1' })
      return app
    }))

    // The load balancer in front of the producers: each JWKS request goes to the next replica.
    const targets = producers.map((app) => new URL('/.well-known/jwks.json', `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`))
    let turn = 0
    const jwksUrl = (await startJwksProxy(t, () => targets[turn++ % targets.length] as URL)).url

    const consumers = await Promise.all(['1', '2'].map(async () => {
      const app = Fastify()
      t.teardown(() => app.close())
      await app.register(consumer, { issuer: ISSUER, audience: AUDIENCE, jwksUrl, clockTolerance: 1, replayStore: redisReplayStore({ connection: redis.url }) })
      app.post('/hooks', { preHandler: app.verifyWebhook }, async () => ({ ok: true }))
      return new URL('/hooks', await app.listen({ port: 0, host: '127.0.0.1' }))
    }))

    // The test's own bookkeeping waits out the restart instead of failing.
    const admin = new Redis(redis.url, { maxRetriesPerRequest: null })
    admin.on('error', () => {})
    t.teardown(() => admin.disconnect())
    const stored = async (): Promise<StoredKeySet> => JSON.parse(await admin.get('webhook-jwt:{signing-keys}:set') as string) as StoredKeySet
    const retired = async (): Promise<number> => (await stored()).keys.filter((key) => key.state === 'retired').length

    const tally = { signingPaused: 0, delivered: 0, retriedWhileRedisAway: 0, failed: [] as string[], replaysRefused: 0, replaysAccepted: 0, replaysUnanswered: 0 }
    const post = async (target: URL, signed: { headers: Record<string, string>, body: Buffer }): Promise<Response> =>
      await fetch(target, { method: 'POST', headers: signed.headers, body: signed.body, signal: AbortSignal.timeout(5000) })

    let restart: Promise<StoredKeySet> | null = null
    let restartedFrom: StoredKeySet | null = null
    let restarted: { kids: string[], revision: number } | null = null
    const captured: Array<{ headers: Record<string, string>, body: Buffer, consumer: number }> = []
    const started = Date.now()
    let n = 0
    // The test reads Redis for its own bookkeeping only while Redis is up, so that traffic flows through the outage.
    const redisUp = (): boolean => restart === null || restartedFrom !== null
    while (!redisUp() || (await retired()) < ROTATIONS) {
      if (Date.now() - started > 90_000) {
        t.fail('three rotations did not complete within 90 s')
        break
      }
      const sender = producers[n % 2]
      const receiverIndex = Math.floor(n / 2) % 2
      // A replica that could not confirm its keys for maxStaleness (Redis away) refuses to sign: the sender
      // waits, as deliver() does with its queue.
      let signed = await (sender as typeof producers[number]).webhooks.sign({ n }, { audience: AUDIENCE }).catch((error: { code?: string }) => {
        if (error.code !== 'WEBHOOK_KEY_SET_STALE') throw error
        return null
      })
      while (signed === null) {
        tally.signingPaused++
        await new Promise((resolve) => setTimeout(resolve, 100))
        signed = await (sender as typeof producers[number]).webhooks.sign({ n }, { audience: AUDIENCE }).catch(() => null)
      }
      n++
      // A 503 (the replay check cannot run while Redis is away) is retried with the same token, as a sender
      // following Retry-After would; anything else that is not a 200 is a failed verification.
      let answer = await post(consumers[receiverIndex] as URL, signed)
      while (answer.status === 503) {
        tally.retriedWhileRedisAway++
        await new Promise((resolve) => setTimeout(resolve, 100))
        answer = await post(consumers[receiverIndex] as URL, signed)
      }
      if (answer.status === 200) tally.delivered++
      else tally.failed.push(`${answer.status} ${await answer.text()}`)
      // Every tenth delivery is replayed to the other consumer replica at once, and kept for after the restart.
      if (n % 10 === 0) {
        captured.push({ ...signed, consumer: receiverIndex })
        const replay = await post(consumers[1 - receiverIndex] as URL, signed)
        if (replay.status === 401 && ((await replay.json()) as { code: string }).code === 'WEBHOOK_REPLAYED') tally.replaysRefused++
        else if (replay.status === 503) tally.replaysUnanswered++
        else tally.replaysAccepted++
      }
      // Once the first rotation is done, Redis restarts (a graceful SHUTDOWN, as in a deploy) while the
      // traffic goes on; once it is back, the checks below run.
      if (restart === null && (await retired()) >= 1) {
        restart = (async () => {
          const before = await stored()
          await redis.down('shutdown')
          // A token captured just before, replayed while Redis is away: never accepted unchecked.
          const recent = captured.at(-1) as (typeof captured)[number]
          const replay = await post(consumers[1 - recent.consumer] as URL, recent)
          t.equal(replay.status, 503, 'a replay while Redis is away gets 503, never a 200')
          t.ok(Number(replay.headers.get('retry-after')) > 0, 'with Retry-After')
          await new Promise((resolve) => setTimeout(resolve, 500))
          await redis.up()
          return before
        })()
        restart.then((before) => { restartedFrom = before }, () => {})
      }
      if (restartedFrom !== null && restarted === null) {
        const before: StoredKeySet = restartedFrom
        const after = await stored()
        restarted = { kids: after.keys.map((key) => key.kid), revision: after.revision }
        t.same(restarted.kids.slice(0, before.keys.length), before.keys.map((key) => key.kid), 'no key lost across the restart')
        // Replays of tokens accepted before the restart are still refused after it.
        const codes: string[] = []
        for (const old of captured.slice(-3)) {
          let replay = await post(consumers[1 - old.consumer] as URL, old)
          while (replay.status === 503) {
            await new Promise((resolve) => setTimeout(resolve, 100))
            replay = await post(consumers[1 - old.consumer] as URL, old)
          }
          codes.push(replay.status === 401 ? ((await replay.json()) as { code: string }).code : String(replay.status))
        }
        t.ok(codes.every((code) => code === 'WEBHOOK_REPLAYED' || code === 'WEBHOOK_TOKEN_EXPIRED'), `replays of tokens from before the restart refused (${codes.join(', ')})`)
        t.ok(codes.includes('WEBHOOK_REPLAYED'), 'one still within its lifetime is refused by the replay store, kept across the restart')
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }

    const set = await stored()
    t.ok(restarted !== null, 'Redis was restarted during the traffic')
    t.same(tally.failed, [], 'zero failed verifications')
    t.ok(tally.delivered >= 500, `deliveries kept flowing (${tally.delivered})`)
    t.equal(tally.replaysAccepted, 0, 'no replay accepted')
    t.ok(tally.replaysRefused > 20, `replays to the other consumer refused (${tally.replaysRefused})`)
    t.ok(set.keys.filter((key) => key.state === 'retired').length >= ROTATIONS, 'at least three rotations completed')
    for (const key of set.keys) {
      const states = key.transitions.map((step) => step.state)
      t.same(states, [...new Set(states)], `${key.kid.slice(0, 8)}: every step applied once (${states.join(' → ')})`)
    }
    // The last step may have landed on one replica an instant ago: the other must follow within maxStaleness.
    const served = async (): Promise<string[]> => await Promise.all(producers.map(async (app) => (await app.inject('/.well-known/jwks.json')).body))
    const deadline = Date.now() + MAX_STALENESS * 1000
    let [a, b] = await served()
    while (a !== b && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      [a, b] = await served()
    }
    t.equal(a, b, 'both producer replicas serve the same key set')
    t.comment(`${tally.delivered} delivered, ${tally.signingPaused} signing pauses (keys stale while Redis was away), ${tally.retriedWhileRedisAway} retries while Redis was away, ${tally.replaysRefused} replays refused, ${tally.replaysUnanswered} unanswered (503), ${set.keys.length} keys, ${Math.round((Date.now() - started) / 1000)} s`)
  })
}
