import t from 'tap'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { captureLogs, type LogLine } from './support/fastify-app.ts'
import { PrivateRedis, redisCommand, redisOrSkip, uniquePrefix } from './support/redis.ts'

// Consumer replicas, each with its own Fastify instance and its own Redis connection, sharing one replay store
// on Redis, behind a real producer's JWKS over loopback. Without a Redis server, the file skips itself before
// loading the code it covers.
const redisUrl = await redisOrSkip(t, 'consumer replicas sharing a Redis replay store')
if (redisUrl !== null) {
  const { default: consumer } = await import('@webhook-jwt/consumer')
  const { memoryKeyStore } = await import('@webhook-jwt/producer')
  const { redisReplayStore } = await import('@webhook-jwt/redis')
  const { AUDIENCE, ISSUER, startSender } = await import('./support/webhook-pair.ts')
  const { until } = await import('../packages/producer/test/helpers/producer-app.ts')
  type ConsumerOptions = Parameters<typeof consumer>[1]

  interface TestContext { teardown(fn: () => unknown): void }

  interface Replica {
    app: FastifyInstance
    url: URL
    logs: LogLine[]
    /** webhook_ids that reached the handler. */
    handled: string[]
  }

  /** A consumer replica on loopback; `handle`, if given, answers in place of the default 200. */
  async function startReplica (t: TestContext, jwksUrl: URL, options: Partial<ConsumerOptions>, handle?: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>): Promise<Replica> {
    const logs: LogLine[] = []
    const app = Fastify({ logger: captureLogs(logs) })
    t.teardown(() => app.close())
    await app.register(consumer, { issuer: ISSUER, jwksUrl, audience: AUDIENCE, ...options } as ConsumerOptions)
    const handled: string[] = []
    app.post('/hooks', { preHandler: app.verifyWebhook }, async (request, reply) => {
      handled.push(request.webhook?.id as string)
      return handle === undefined ? { ok: true } : await handle(request, reply)
    })
    return { app, url: new URL('/hooks', await app.listen({ port: 0, host: '127.0.0.1' })), logs, handled }
  }

  interface Signed { token: string, body: Buffer, headers: Record<string, string>, id: string }
  interface Answer { status: number, code: string | undefined, retryAfter: string | null, body: unknown, startedAt: number, endedAt: number }

  async function post (replica: Replica, signed: Signed): Promise<Answer> {
    const startedAt = Date.now()
    const response = await fetch(replica.url, { method: 'POST', headers: signed.headers, body: signed.body })
    const body = await response.json() as { code?: string }
    return { status: response.status, code: body.code, retryAfter: response.headers.get('retry-after'), body, startedAt, endedAt: Date.now() }
  }

  const jtiOf = (token: string): string => (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { jti: string }).jti

  async function startIssuer (t: TestContext): Promise<{ jwksUrl: URL, sign: (id?: string) => Promise<Signed> }> {
    const sender = await startSender(t, { keyStore: memoryKeyStore(), rotation: { every: false } })
    let sequence = 0
    return {
      jwksUrl: sender.jwksUrl,
      sign: async (id) => await sender.app.webhooks.sign({ type: 'order.paid', sequence: ++sequence }, { audience: AUDIENCE, ...(id === undefined ? {} : { id }) })
    }
  }

  /** A replay store of a replica's own: its own connection, closed with its app. */
  const storeOn = (connection: string, prefix: string, commandTimeout: string = '1s'): ReturnType<typeof redisReplayStore> => redisReplayStore({ connection, prefix, commandTimeout })

  /** Cleans the shared server of the keys under `prefix` once the test ends (the test's own keys only). */
  function cleanUp (t: TestContext, prefix: string): void {
    t.teardown(async () => {
      await redisCommand(redisUrl as string, `EVAL "for _, key in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', key) end" 0 "${prefix}*"`)
    })
  }

  t.test('a token accepted by one replica is refused as a replay by the other', async (t) => {
    const issuer = await startIssuer(t)
    const prefix = uniquePrefix('replicas-replay')
    cleanUp(t, prefix)
    const replica1 = await startReplica(t, issuer.jwksUrl, { replayStore: storeOn(redisUrl, prefix) })
    const replica2 = await startReplica(t, issuer.jwksUrl, { replayStore: storeOn(redisUrl, prefix) })
    const signed = await issuer.sign()
    t.match(await post(replica1, signed), { status: 200 })
    t.match(await post(replica2, signed), { status: 401, code: 'WEBHOOK_REPLAYED' }, 'replayed to replica 2')
    t.match(await post(replica1, signed), { status: 401, code: 'WEBHOOK_REPLAYED' }, 'and to replica 1')
    t.match(await post(replica2, await issuer.sign()), { status: 200 }, 'a new token verifies on replica 2')

    const raced = await issuer.sign()
    const answers = await Promise.all(Array.from({ length: 10 }, async (_, index) => await post(index % 2 === 0 ? replica1 : replica2, raced)))
    t.equal(answers.filter((answer) => answer.status === 200).length, 1, 'one token sent to both replicas 10 times at once is accepted once')
    t.equal(answers.filter((answer) => answer.code === 'WEBHOOK_REPLAYED').length, 9)
    t.equal(replica1.handled.length + replica2.handled.length, 3)
  })

  t.test('deduplicate on Redis across replicas: a repeat while the first is handled gets 503, after a 2xx it is a duplicate', async (t) => {
    const issuer = await startIssuer(t)
    const prefix = uniquePrefix('replicas-dedupe')
    cleanUp(t, prefix)
    let release: (status: number) => void = () => {}
    let handling = 0
    const slowHandler = async (_request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      handling++
      return await reply.code(await new Promise<number>((resolve) => { release = resolve })).send({ handled: true })
    }
    const options = (): Partial<ConsumerOptions> => ({
      replayStore: storeOn(redisUrl, `${prefix}replay:`),
      deduplicate: { store: storeOn(redisUrl, `${prefix}dedupe:`), processingTimeout: 10 }
    })
    const replica1 = await startReplica(t, issuer.jwksUrl, options(), slowHandler)
    const replica2 = await startReplica(t, issuer.jwksUrl, options(), slowHandler)

    const first = post(replica1, await issuer.sign('wh_dedupe_1'))
    await until(() => handling === 1, 5000)
    const repeat = await post(replica2, await issuer.sign('wh_dedupe_1'))
    t.match(repeat, { status: 503, code: 'WEBHOOK_DELIVERY_IN_PROGRESS', retryAfter: '5' }, 'the other replica does not answer for what is still being handled')
    release(200)
    t.match(await first, { status: 200, body: { handled: true } })
    t.match(await post(replica2, await issuer.sign('wh_dedupe_1')), { status: 200, body: { duplicate: true, id: 'wh_dedupe_1' } }, 'once handled, a repeat on the other replica is acknowledged without the handler')
    t.equal(handling, 1)

    const failed = post(replica2, await issuer.sign('wh_dedupe_2'))
    await until(() => handling === 2, 5000)
    release(500)
    t.match(await failed, { status: 500 }, 'the handler failed: the id is released')
    const retry = post(replica1, await issuer.sign('wh_dedupe_2'))
    await until(() => handling === 3, 5000)
    release(200)
    t.match(await retry, { status: 200, body: { handled: true } }, 'so the retry is handled, on the other replica')
    t.match(await post(replica2, await issuer.sign('wh_dedupe_2')), { status: 200, body: { duplicate: true, id: 'wh_dedupe_2' } })
    t.same([...replica1.handled, ...replica2.handled].sort(), ['wh_dedupe_1', 'wh_dedupe_2', 'wh_dedupe_2'])
  })

  t.test('Redis restarted under continuous traffic: 503 + Retry-After while it is down, no replay accepted after it is back', async (t) => {
    const redis = await PrivateRedis.start()
    t.teardown(() => redis.stop())
    const issuer = await startIssuer(t)
    const replicas = [
      await startReplica(t, issuer.jwksUrl, { replayStore: storeOn(redis.url, 'webhook-jwt:replay:', '500ms') }),
      await startReplica(t, issuer.jwksUrl, { replayStore: storeOn(redis.url, 'webhook-jwt:replay:', '500ms') })
    ]
    const sent: Array<{ signed: Signed, answer: Answer }> = []
    const run = { stop: false }
    let next = 0
    const traffic = Promise.all(Array.from({ length: 4 }, async () => {
      while (!run.stop) {
        const signed = await issuer.sign()
        sent.push({ signed, answer: await post(replicas[next++ % 2] as Replica, signed) })
      }
    }))
    const accepted = (): Array<{ signed: Signed, answer: Answer }> => sent.filter(({ answer }) => answer.status === 200)
    try {
      await until(() => accepted().length >= 20, 10_000)
      const acceptedBefore = accepted().length
      await redis.down('kill')
      const downAt = Date.now()
      await until(() => sent.filter(({ answer }) => answer.startedAt >= downAt).length >= 20, 5000)
      await new Promise((resolve) => setTimeout(resolve, 300))
      const upAt = Date.now()
      await redis.up()
      const backAt = Date.now()
      await until(() => sent.filter(({ answer }) => answer.startedAt >= backAt && answer.status === 200).length >= 20, 10_000)
      run.stop = true
      await traffic

      const duringOutage = sent.filter(({ answer }) => answer.startedAt >= downAt && answer.endedAt <= upAt)
      t.ok(duringOutage.length >= 20, `${duringOutage.length} requests made and answered while Redis was down`)
      t.ok(duringOutage.every(({ answer }) => answer.status === 503 && answer.code === 'WEBHOOK_REPLAY_STORE_UNAVAILABLE' && answer.retryAfter === '5'), 'every one got 503 WEBHOOK_REPLAY_STORE_UNAVAILABLE with Retry-After: 5')
      t.same(sent.filter(({ answer }) => answer.status !== 200 && answer.code !== 'WEBHOOK_REPLAY_STORE_UNAVAILABLE').map(({ answer }) => answer), [], 'no other answer, at any time')
      t.ok(sent.every(({ answer }) => answer.status === 200 || answer.retryAfter === '5'), 'every 503 says when to retry')
      t.equal(replicas[0]!.handled.length + replicas[1]!.handled.length, accepted().length, 'only accepted requests reached a handler')
      t.notOk(replicas.some((replica) => replica.logs.some((line) => /UNCHECKED/.test(line.msg))), 'nothing was accepted unchecked')
      t.ok(replicas.every((replica) => replica.logs.some((line) => line.msg === 'webhook replay store failed; answering 503')), 'both replicas logged the failure')

      const replays = await Promise.all(accepted().map(async ({ signed }, index) => await post(replicas[index % 2] as Replica, signed)))
      t.ok(acceptedBefore >= 20, `${acceptedBefore} tokens were accepted before the restart`)
      t.same(replays.filter((answer) => answer.code !== 'WEBHOOK_REPLAYED'), [], `each of the ${replays.length} accepted tokens, replayed after the restart, is refused as a replay`)
      for (const replica of replicas) t.match(await post(replica, await issuer.sign()), { status: 200 }, 'new tokens verify')
    } finally {
      run.stop = true
      await traffic
    }
  })

  t.test('replayStoreFailure accept: while Redis is down, webhooks are accepted unchecked and each is logged as an error', async (t) => {
    const redis = await PrivateRedis.start()
    t.teardown(() => redis.stop())
    const issuer = await startIssuer(t)
    const replica = await startReplica(t, issuer.jwksUrl, { replayStore: storeOn(redis.url, 'webhook-jwt:replay:', '500ms'), replayStoreFailure: 'accept' })
    t.ok(replica.logs.some((line) => line.level === 40 && /fails OPEN/.test(line.msg)), 'a warning at registration')
    const checked = await issuer.sign()
    t.match(await post(replica, checked), { status: 200 })
    t.match(await post(replica, checked), { status: 401, code: 'WEBHOOK_REPLAYED' }, 'while Redis is up, replays are refused')

    await redis.down('kill')
    const unchecked = await issuer.sign()
    t.match(await post(replica, unchecked), { status: 200 }, 'accepted while Redis is down')
    t.match(await post(replica, unchecked), { status: 200 }, 'and so is its replay: nothing can be checked')
    t.match(await post(replica, checked), { status: 200 }, 'even a replay of a token Redis remembers')
    const errors = replica.logs.filter((line) => line.level === 50 && /ACCEPTING the webhook UNCHECKED/.test(line.msg))
    t.same(errors.map((line) => [line.jti, line.webhookId]), [[jtiOf(unchecked.token), unchecked.id], [jtiOf(unchecked.token), unchecked.id], [jtiOf(checked.token), checked.id]], 'one error line per request accepted unchecked, naming its jti and webhook_id')

    await redis.up()
    const deadline = Date.now() + 10_000
    let answer = await post(replica, checked)
    while (answer.status === 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      answer = await post(replica, checked)
    }
    t.match(answer, { status: 401, code: 'WEBHOOK_REPLAYED' }, 'once Redis is back, a token it remembered is refused again')
    t.match(await post(replica, unchecked), { status: 200 }, 'a token accepted unchecked was never recorded: it is accepted once more (the cost of failing open)')
    t.match(await post(replica, unchecked), { status: 401, code: 'WEBHOOK_REPLAYED' })
  })
}
