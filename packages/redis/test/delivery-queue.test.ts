import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import type { DeliveryJob, DeliveryQueue } from '@webhook-jwt/producer'
import type { BullmqDeliveryQueueOptions } from '@webhook-jwt/redis'
import { PrivateRedis, deleteKeys, redisOrSkip, uniquePrefix } from '../../../test/support/redis.ts'
import { countKeys, jobCounts, killConnections } from './helpers/bullmq-keys.ts'

// The BullMQ delivery queue against a real Redis. The module under test is imported only once a server
// answers, so a machine without Redis reports the file skipped and computes no coverage for it.
const REDIS_URL = await redisOrSkip(t, 'the BullMQ delivery queue')
if (REDIS_URL !== null) await suite(REDIS_URL)

async function suite (redisUrl: string): Promise<void> {
  const { bullmqDeliveryQueue, DEFAULT_DELIVERY_QUEUE_NAME } = await import('@webhook-jwt/redis')
  const { default: Fastify } = await import('fastify')
  const { default: producer, memoryKeyStore } = await import('@webhook-jwt/producer')
  const { answer, inTurn, startRawReceiver } = await import('../../producer/test/helpers/raw-receiver.ts')
  const { until } = await import('../../producer/test/helpers/producer-app.ts')

  const ENDPOINT_A = 'https://a.example/hooks'
  const ENDPOINT_B = 'https://b.example/hooks'
  let serial = 0

  function deliveryJob (overrides: Partial<DeliveryJob> = {}): DeliveryJob {
    const now = Date.now()
    serial++
    return { id: `wh_${serial}`, url: ENDPOINT_A, audience: ENDPOINT_A, contentType: 'application/json', body: Buffer.from(`{"n":${serial}}`), attempts: 0, acceptedAt: now, notBefore: now, ...overrides }
  }

  const all = (): boolean => true
  const ids = (jobs: DeliveryJob[]): string[] => jobs.map((job) => job.id)
  const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

  /** A BullMQ key prefix of the test's own (its keys are deleted when the test ends). */
  function testPrefix (t: Test, url = redisUrl): string {
    const prefix = uniquePrefix('delivery-queue').slice(0, -1)
    t.teardown(() => deleteKeys(url, prefix))
    return prefix
  }

  /** A queue with a 1 s lease, closed when the test ends. */
  function openQueue (t: Test, prefix: string, options: Partial<BullmqDeliveryQueueOptions> = {}): DeliveryQueue {
    const queue = bullmqDeliveryQueue({ connection: redisUrl, prefix, lockDuration: 1, ...options })
    t.teardown(() => queue.close([]))
    return queue
  }

  /** Takes until `count` jobs came out, within `timeoutMs`. */
  async function takeWithin (queue: DeliveryQueue, count: number, timeoutMs: number, accept: (job: DeliveryJob) => boolean = all): Promise<DeliveryJob[]> {
    const taken: DeliveryJob[] = []
    const deadline = Date.now() + timeoutMs
    while (taken.length < count && Date.now() < deadline) {
      taken.push(...await queue.take(Date.now(), count - taken.length, accept))
      if (taken.length < count) await sleep(50)
    }
    return taken
  }

  t.test('add, take, settle: due jobs come out in order; a rescheduled one waits for its time; a finished one is removed', async (t) => {
    const prefix = testPrefix(t)
    const queue = openQueue(t, prefix)
    t.equal(queue.shared, true)
    t.equal(queue.description, `BullMQ queue "${DEFAULT_DELIVERY_QUEUE_NAME}" (prefix "${prefix}")`)
    const [first, second, third] = [deliveryJob(), deliveryJob({ url: ENDPOINT_B, audience: 'aud-b', contentType: 'text/plain', body: Buffer.from([0, 255, 10]) }), deliveryJob()] as [DeliveryJob, DeliveryJob, DeliveryJob]
    for (const job of [first, second, third]) await queue.add(job)
    t.equal(await queue.nextDueAt() as number <= Date.now(), true, 'jobs wait: due now')
    const taken = await queue.take(Date.now(), 2, all)
    t.same(taken, [first, second], 'earliest first, every field and the body bytes as added')
    t.same(ids(await queue.take(Date.now(), 10, all)), [third.id])
    t.equal(await queue.nextDueAt(), null, 'nothing waits: every job is taken')

    const notBefore = Date.now() + 700
    await queue.settle(first, { ...first, attempts: 1, notBefore })
    await queue.settle(second, null)
    await queue.settle(third, null)
    t.equal(await queue.nextDueAt(), notBefore, 'the rescheduled job is due at the time it was given')
    t.same(await queue.take(Date.now(), 10, all), [], 'not before its time')
    t.match(await jobCounts(redisUrl, DEFAULT_DELIVERY_QUEUE_NAME, prefix), { wait: 0, active: 0, delayed: 1, completed: 0, failed: 0 }, 'finished jobs are not kept')
    await sleep(Math.max(0, notBefore - Date.now()))
    const [again] = await queue.take(Date.now(), 10, all)
    t.same(again, { ...first, attempts: 1, notBefore }, 'then taken, with its attempt count')
    await queue.settle(again as DeliveryJob, null)
    t.same(await jobCounts(redisUrl, DEFAULT_DELIVERY_QUEUE_NAME, prefix), { wait: 0, active: 0, delayed: 0, completed: 0, failed: 0 })
  })

  t.test('the same webhook to the same URL is queued once; to another URL it is another job', async (t) => {
    const prefix = testPrefix(t)
    const queue = openQueue(t, prefix, { name: 'deliveries' })
    const job = deliveryJob()
    await queue.add(job)
    await queue.add({ ...job, body: Buffer.from('a second add') })
    await queue.add({ ...job, url: ENDPOINT_B })
    const taken = await queue.take(Date.now(), 10, all)
    t.same(taken.map((one) => [one.id, one.url, one.body.toString()]), [[job.id, ENDPOINT_A, job.body.toString()], [job.id, ENDPOINT_B, job.body.toString()]])
  })

  t.test('nextDueAt: the earliest delayed job when none waits, null when the queue is empty', async (t) => {
    const prefix = testPrefix(t)
    const queue = openQueue(t, prefix)
    t.equal(await queue.nextDueAt(), null)
    const later = Date.now() + 60_000
    await queue.add(deliveryJob({ notBefore: later + 1000 }))
    await queue.add(deliveryJob({ notBefore: later }))
    t.equal(await queue.nextDueAt(), later)
    t.same(await queue.take(Date.now(), 10, all), [], 'a job added for later is not due')
  })

  t.test('refused jobs stay leased, count no attempt, and are offered first next time, in order', async (t) => {
    const prefix = testPrefix(t)
    const queue = openQueue(t, prefix)
    const other = openQueue(t, prefix)
    const [a1, b1, a2] = [deliveryJob(), deliveryJob({ url: ENDPOINT_B }), deliveryJob()] as [DeliveryJob, DeliveryJob, DeliveryJob]
    for (const job of [a1, b1, a2]) await queue.add(job)
    const offered: string[] = []
    const taken = await queue.take(Date.now(), 10, (job) => { offered.push(job.id); return job.url === ENDPOINT_B })
    t.same(ids(taken), [b1.id], 'the busy endpoint\'s jobs are refused, the others taken')
    t.same(offered, [a1.id, b1.id, a2.id], 'each job is offered once, in order')
    t.ok(await queue.nextDueAt() as number <= Date.now(), 'the refused jobs are due')
    // Twice the lease: the refused jobs' locks are renewed, so another replica's stalled check leaves them be.
    await sleep(2200)
    t.same(await other.take(Date.now(), 10, all), [], 'another replica cannot take them while they are leased here')
    t.same(await queue.take(Date.now(), 10, () => false), [], 'refused again: still held')
    const later = await queue.take(Date.now(), 10, all)
    t.same(later, [a1, a2], 'offered first, in their order, with no attempt counted')
  })

  t.test('lookahead bounds the refused jobs held: past it, take looks no further', async (t) => {
    const prefix = testPrefix(t)
    const queue = openQueue(t, prefix, { lookahead: 1 })
    const [a1, b1] = [deliveryJob(), deliveryJob({ url: ENDPOINT_B })] as [DeliveryJob, DeliveryJob]
    await queue.add(a1)
    await queue.add(b1)
    t.same(await queue.take(Date.now(), 10, (job) => job.url === ENDPOINT_B), [], 'one refused job held: the next is not fetched')
    t.same(ids(await queue.take(Date.now(), 1, all)), [a1.id], 'max is honoured')
    t.same(ids(await queue.take(Date.now(), 10, all)), [b1.id])
  })

  t.test('a job not due at the time take is given is held, and handed out once it is', async (t) => {
    const prefix = testPrefix(t)
    const queue = openQueue(t, prefix)
    const job = deliveryJob()
    await queue.add(job)
    t.same(await queue.take(job.notBefore - 1, 10, all), [], 'a clock behind the job\'s time: not due yet')
    t.equal(await queue.nextDueAt(), job.notBefore)
    t.same(await queue.take(job.notBefore, 10, all), [job])
  })

  t.test('a held job whose lease was lost is dropped: it is another replica\'s', async (t) => {
    const prefix = testPrefix(t)
    const queue = openQueue(t, prefix, { name: 'lost-lease' })
    const other = openQueue(t, prefix, { name: 'lost-lease' })
    const job = deliveryJob()
    await queue.add(job)
    t.same(await queue.take(Date.now(), 10, () => false), [])
    const client = new Redis(redisUrl)
    t.teardown(() => client.quit())
    const locks = await client.keys(`${prefix}:lost-lease:*:lock`)
    t.equal(locks.length, 1)
    await client.del(...locks)
    t.same(ids(await takeWithin(other, 1, 4000)), [job.id], 'the stalled check gives it back, and another replica takes it')
    await sleep(600)
    t.equal(await queue.nextDueAt(), null, 'the first replica no longer holds it')
    t.same(await queue.take(Date.now(), 10, all), [])
  })

  t.test('a replica that dies holding a job: once its lease expires, another replica takes the job, as it was', async (t) => {
    const prefix = testPrefix(t)
    const name = `dead-replica-${process.pid}-${Date.now()}`
    // The dying replica's connections do not reconnect once killed: it can neither settle nor renew.
    const doomed = new Redis(redisUrl, { connectionName: name, retryStrategy: () => null, maxRetriesPerRequest: null, lazyConnect: true })
    doomed.on('error', () => {})
    const dying = openQueue(t, prefix, { connection: doomed })
    t.teardown(() => doomed.disconnect())
    const survivor = openQueue(t, prefix)
    const job = deliveryJob()
    await dying.add(job)
    const [inFlight] = await dying.take(Date.now(), 10, all)
    t.same(inFlight, job)
    t.equal(await killConnections(redisUrl, name), 2, 'the queue\'s connection and its worker\'s')
    const killedAt = Date.now()
    t.same(await survivor.take(Date.now(), 10, all), [], 'still leased')
    const [retaken] = await takeWithin(survivor, 1, 4000)
    t.same(retaken, job, 'taken again, with no attempt counted for the lost one')
    const waited = Date.now() - killedAt
    t.ok(waited >= 400 && waited <= 2500, `due again after the lease expired, within 1.5 × lockDuration (${waited} ms)`)
    await t.rejects(dying.settle(inFlight as DeliveryJob, null), 'the dead replica cannot settle it')
    await survivor.settle(retaken as DeliveryJob, null)
  })

  t.test('close() gives leased jobs back at once, unsettled ones with their attempt count; it reports none', async (t) => {
    const prefix = testPrefix(t)
    const closing = openQueue(t, prefix)
    const next = openQueue(t, prefix)
    const [a1, b1, b2] = [deliveryJob(), deliveryJob({ url: ENDPOINT_B }), deliveryJob({ url: ENDPOINT_B })] as [DeliveryJob, DeliveryJob, DeliveryJob]
    for (const job of [a1, b1, b2]) await closing.add(job)
    t.same(await closing.take(Date.now(), 10, (job) => job.url === ENDPOINT_A || job.id === b2.id), [a1, b2])
    const cut = { ...a1, attempts: 1 }
    t.same(await closing.close([cut, b2]), [], 'a durable queue keeps every job')
    t.same(await closing.close([]), [], 'closing again does nothing')
    await t.rejects(closing.add(deliveryJob()), /is closed/)
    const taken = await next.take(Date.now(), 10, all)
    t.same(taken, [cut, b2, b1], 'available at once: the attempt cut short counted, then the others')
  })

  t.test('settle() refuses a job this replica does not lease', async (t) => {
    const queue = openQueue(t, testPrefix(t))
    await t.rejects(queue.settle(deliveryJob(), null), /is not leased by this replica/)
  })

  t.test('options are checked when the queue is created, naming the option', async (t) => {
    const keyPrefixed = new Redis(redisUrl, { keyPrefix: 'app:', lazyConnect: true })
    t.teardown(() => keyPrefixed.disconnect())
    const refused: Array<[unknown, string, RegExp]> = [
      [null, 'options', /must be an object/],
      [{}, 'connection', /is required/],
      [{ connection: 42 }, 'connection', /redis:\/\/ or rediss:\/\/ URL/],
      [{ connection: 'http://127.0.0.1:6379' }, 'connection', /redis:\/\/ or rediss:\/\/ URL/],
      [{ connection: { keyPrefix: 'app:' } }, 'connection', /keyPrefix/],
      [{ connection: keyPrefixed }, 'connection', /keyPrefix/],
      [{ connection: redisUrl, name: 'a:b' }, 'name', /without ":"/],
      [{ connection: redisUrl, name: '' }, 'name', /non-empty string/],
      [{ connection: redisUrl, prefix: 5 }, 'prefix', /non-empty string/],
      [{ connection: redisUrl, lockDuration: 0.5 }, 'lockDuration', /at least 1 s/],
      [{ connection: redisUrl, lockDuration: 'soon' }, 'lockDuration', /duration/],
      [{ connection: redisUrl, lookahead: 0 }, 'lookahead', /whole number/],
      [{ connection: redisUrl, commandTimeout: 0 }, 'commandTimeout', /more than 0/]
    ]
    for (const [options, option, message] of refused) {
      t.throws(() => bullmqDeliveryQueue(options as BullmqDeliveryQueueOptions), { name: 'WebhookOptionError', code: 'WEBHOOK_INVALID_OPTION', option, message }, option)
    }
    t.equal(keyPrefixed.status, 'wait', 'a client of yours is left as it was')
    const prefix = testPrefix(t)
    const queue = bullmqDeliveryQueue({ connection: { host: '127.0.0.1', port: Number(new URL(redisUrl).port || 6379) }, prefix, lockDuration: '2s', lookahead: 5, commandTimeout: '500ms' })
    t.same(await queue.close([]), [], 'a queue never used closes without connecting')
    t.equal(await countKeys(redisUrl, prefix), 0)
  })

  t.test('an ioredis client of yours is used, and left open on close', async (t) => {
    const prefix = testPrefix(t)
    const client = new Redis(redisUrl, { maxRetriesPerRequest: null, lazyConnect: true })
    t.teardown(() => client.quit())
    const queue = bullmqDeliveryQueue({ connection: client, prefix, lockDuration: 1 })
    const job = deliveryJob()
    await queue.add(job)
    t.same(await queue.take(Date.now(), 10, all), [job])
    await queue.close([job])
    await bullmqDeliveryQueue({ connection: client, prefix }).close([])
    t.equal(client.status, 'ready')
    t.equal(await client.llen(`${prefix}:${DEFAULT_DELIVERY_QUEUE_NAME}:wait`), 1, 'the unsettled job was given back')
  })

  t.test('Redis down: every call rejects within the bound; once Redis is back, a lease lost meanwhile makes its job due again', async (t) => {
    const server = await PrivateRedis.start()
    t.teardown(() => server.stop())
    const prefix = testPrefix(t, server.url)
    const bound = { lockDuration: 1, commandTimeout: 0.3 }
    const holder = bullmqDeliveryQueue({ connection: server.url, prefix, ...bound })
    const queue = bullmqDeliveryQueue({ connection: server.url, prefix, ...bound })
    t.teardown(() => queue.close([]))
    const held = deliveryJob()
    await holder.add(held)
    t.same(await holder.take(Date.now(), 10, all), [held])
    const jobs = [deliveryJob(), deliveryJob(), deliveryJob()]
    for (const job of jobs) await queue.add(job)
    // Redis dies in the middle of a take: the jobs already taken are handed over, the failure shows next time.
    let down: Promise<void> | null = null
    const taken = await queue.take(Date.now(), 10, () => { down ??= server.down('kill'); return true })
    await down
    t.ok(taken.length >= 1 && taken.length < jobs.length, `${taken.length} taken before Redis went away`)
    t.same(taken[0], jobs[0])

    const started = Date.now()
    await t.rejects(queue.add(deliveryJob()))
    await t.rejects(queue.take(Date.now(), 10, all))
    await t.rejects(queue.nextDueAt())
    await t.rejects(queue.settle(taken[0] as DeliveryJob, null), 'the settle is lost: the lease will expire')
    t.ok(Date.now() - started < 4 * 400, `each call failed within its bound (${Date.now() - started} ms for four)`)
    await sleep(600) // a lease renewal fails meanwhile, and is tried again later
    // Closing cannot give the job back: its lease will expire instead. Closing is bounded all the same.
    let closeStarted = Date.now()
    t.same(await holder.close([held]), [])
    t.ok(Date.now() - closeStarted < 2500, `closing is bounded (${Date.now() - closeStarted} ms)`)
    // A queue first used while Redis is away fails the same way, and closes.
    const late = bullmqDeliveryQueue({ connection: server.url, prefix, ...bound })
    await t.rejects(late.add(deliveryJob()), /took longer than 300 ms/)
    closeStarted = Date.now()
    t.same(await late.close([]), [])
    t.ok(Date.now() - closeStarted < 2500, `closing is bounded (${Date.now() - closeStarted} ms)`)

    await server.up()
    const back = bullmqDeliveryQueue({ connection: server.url, prefix, ...bound })
    t.teardown(() => back.close([]))
    const deadline = Date.now() + 10_000
    while (await back.add(deliveryJob()).then(() => false, () => true)) {
      if (Date.now() > deadline) throw new Error('Redis did not come back')
      await sleep(100)
    }
    const again = await takeWithin(back, jobs.length + 2, 5000)
    for (const lost of [held, jobs[0] as DeliveryJob]) {
      t.same(again.find((job) => job.id === lost.id), lost, `${lost.id}, whose lease was lost, is due again, as it was, from the file Redis kept`)
    }
  })

  t.test('the producer delivers through the queue: 503 then 200, retried on its schedule, nothing left in Redis', async (t) => {
    const prefix = testPrefix(t)
    const receiver = await startRawReceiver(t, inTurn(answer(503), answer(200)))
    const app = Fastify()
    t.teardown(() => app.close())
    const undelivered: unknown[] = []
    await app.register(producer, {
      issuer: 'https://sender.test',
      keyStore: memoryKeyStore(),
      rotation: { every: false },
      delivery: { queue: bullmqDeliveryQueue({ connection: redisUrl, prefix, lockDuration: 1 }), retry: { schedule: [0.3], jitter: 0 }, pollInterval: 0.1, allowedNetworks: ['127.0.0.0/8', '::1/128'], onUndelivered: (webhooks) => { undelivered.push(...webhooks) } }
    })
    const attempts: Array<{ attempt: number, verdict: string, status?: number }> = []
    const outcomes: Array<{ outcome: string, attempts: number }> = []
    app.webhooks.on('attempt', (event) => attempts.push(event))
    app.webhooks.on('outcome', (event) => outcomes.push(event))
    await app.ready()
    const { id } = await app.webhooks.deliver(receiver.url, { type: 'invoice.paid' })
    await until(() => outcomes.length === 1, 10_000)
    t.match(attempts, [{ attempt: 1, verdict: 'retry', status: 503 }, { attempt: 2, verdict: 'delivered', status: 200 }])
    t.match(outcomes, [{ id, outcome: 'delivered', attempts: 2 }])
    t.same(receiver.requests.map((request) => request.claims.webhook_id), [id, id])
    t.same(await jobCounts(redisUrl, DEFAULT_DELIVERY_QUEUE_NAME, prefix), { wait: 0, active: 0, delayed: 0, completed: 0, failed: 0 })
    await app.close()
    t.same(undelivered, [])
  })

  t.test('a producer that closes with a retry pending reports nothing undelivered; the next producer delivers it', async (t) => {
    const prefix = testPrefix(t)
    const receiver = await startRawReceiver(t, inTurn(answer(503), answer(204)))
    const start = async (): Promise<{ app: ReturnType<typeof Fastify>, outcomes: string[], undelivered: unknown[] }> => {
      const app = Fastify()
      t.teardown(() => app.close())
      const outcomes: string[] = []
      const undelivered: unknown[] = []
      await app.register(producer, {
        issuer: 'https://sender.test',
        keyStore: memoryKeyStore(),
        rotation: { every: false },
        delivery: { queue: bullmqDeliveryQueue({ connection: redisUrl, prefix, lockDuration: 1 }), retry: { schedule: [1], jitter: 0 }, pollInterval: 0.1, allowedNetworks: ['127.0.0.0/8', '::1/128'], onUndelivered: (webhooks) => { undelivered.push(...webhooks) } }
      })
      app.webhooks.on('outcome', (event) => outcomes.push(event.outcome))
      await app.ready()
      return { app, outcomes, undelivered }
    }
    const first = await start()
    const { id } = await first.app.webhooks.deliver(receiver.url, { type: 'invoice.paid' })
    await until(() => receiver.requests.length === 1, 10_000)
    await first.app.close()
    t.same(first.outcomes, [], 'no outcome: the webhook is still queued')
    t.same(first.undelivered, [])
    const second = await start()
    await until(() => second.outcomes.length === 1, 10_000)
    t.same(second.outcomes, ['delivered'])
    t.same(receiver.requests.map((request) => request.claims.webhook_id), [id, id])
  })
}
