import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { createManualClock, systemClock, type ManualClock } from '@webhook-jwt/protocol'
import { sendAttempt } from '../src/delivery/send-attempt.ts'
import { DestinationPolicy, guardedAgent } from '../src/delivery/destination-guard.ts'
import Fastify from 'fastify'
import producer, { DEFAULT_RETRY_SCHEDULE, memoryDeliveryQueue, memoryKeyStore, type DeliveryAttemptEvent, type DeliveryOptions, type DeliveryOutcomeEvent, type DeliveryQueue, type UndeliveredWebhook } from '@webhook-jwt/producer'
import { buildProducer, LOOPBACK_NETWORKS, startupError, until } from './helpers/producer-app.ts'
import { answer, inTurn, startRawReceiver } from './helpers/raw-receiver.ts'

interface Sender {
  app: Awaited<ReturnType<typeof buildProducer>>['app']
  logs: Awaited<ReturnType<typeof buildProducer>>['logs']
  clock: ManualClock
  attempts: DeliveryAttemptEvent[]
  outcomes: DeliveryOutcomeEvent[]
  /** Moves the clock to the attempt that `after` (default: the last attempt) scheduled, once it is armed. */
  advanceToNextAttempt(after?: DeliveryAttemptEvent): Promise<void>
}

async function buildSender (t: Test, delivery: DeliveryOptions = {}): Promise<Sender> {
  const clock = createManualClock(Date.UTC(2026, 10, 22))
  const { app, logs } = await buildProducer(t, { keyStore: memoryKeyStore(), rotation: { every: false }, clock, delivery: { retry: { jitter: 0 }, allowedNetworks: LOOPBACK_NETWORKS, ...delivery } })
  const attempts: DeliveryAttemptEvent[] = []
  const outcomes: DeliveryOutcomeEvent[] = []
  app.webhooks.on('attempt', (event) => attempts.push(event))
  app.webhooks.on('outcome', (event) => outcomes.push(event))
  return {
    app,
    logs,
    clock,
    attempts,
    outcomes,
    async advanceToNextAttempt (after = attempts.at(-1)) {
      const last = after?.nextAttemptAt
      if (last == null) throw new Error('no attempt is scheduled')
      await until(() => clock.pending > 0)
      clock.advance(last.getTime() - clock.now())
    }
  }
}

/** A loopback URL on which nothing listens. */
async function closedPortUrl (): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}/hooks`
}

const at = (sender: Sender, seconds: number): Date => new Date(sender.clock.now() + seconds * 1000)

t.test('flaky 503s then success: retried on the schedule, each attempt signed afresh with the same webhook id', async (t) => {
  const receiver = await startRawReceiver(t, inTurn(answer(503), answer(503), answer(200)))
  const sender = await buildSender(t)
  const { id } = await sender.app.webhooks.deliver(receiver.url, { type: 'invoice.paid' })
  await until(() => sender.attempts.length === 1)
  t.match(sender.attempts[0], { id, url: receiver.url, attempt: 1, verdict: 'retry', status: 503, nextAttemptAt: at(sender, DEFAULT_RETRY_SCHEDULE[0] as number) })
  await sender.advanceToNextAttempt()
  await until(() => sender.attempts.length === 2)
  t.match(sender.attempts[1], { attempt: 2, verdict: 'retry', status: 503, nextAttemptAt: at(sender, DEFAULT_RETRY_SCHEDULE[1] as number) })
  await sender.advanceToNextAttempt()
  await until(() => sender.outcomes.length === 1)
  t.match(sender.attempts[2], { attempt: 3, verdict: 'delivered', status: 200, nextAttemptAt: null })
  t.same(sender.outcomes, [{ id, url: receiver.url, outcome: 'delivered', attempts: 3, status: 200 }])
  const [first, , third] = receiver.requests
  t.equal(new Set(receiver.requests.map((request) => request.claims.jti)).size, 3, 'a new jti each time')
  t.same(receiver.requests.map((request) => request.claims.webhook_id), [id, id, id], 'the same webhook_id')
  t.same(receiver.requests.map((request) => request.headers['webhook-id']), [id, id, id], 'mirrored in the webhook-id header')
  t.equal((third?.claims.iat as number) - (first?.claims.iat as number), 305, 'signed when sent: 5 s then 300 s later')
  t.equal(receiver.requests[0]?.claims.aud, receiver.url, 'the audience defaults to the URL')
  t.same(receiver.requests.map((request) => request.body.toString()), Array(3).fill('{"type":"invoice.paid"}'), 'the same body bytes')
  t.equal(first?.headers['user-agent'], '@webhook-jwt/producer')
})

t.test('Retry-After replaces the scheduled wait, within 1 s and delivery.retry.maxRetryAfter; a date works too', async (t) => {
  // Attempt 4 comes 42 + 600 + 1 s after the first; its answer asks for 90 s more, as a date.
  const retryDate = new Date(Date.UTC(2026, 10, 22) + (42 + 600 + 1 + 90) * 1000).toUTCString()
  const receiver = await startRawReceiver(t, inTurn(
    answer(503, { headers: { 'retry-after': '42' } }),
    answer(429, { headers: { 'retry-after': '999999' } }),
    answer(503, { headers: { 'retry-after': '0' } }),
    answer(503, { headers: { 'retry-after': retryDate } }),
    answer(503, { headers: { 'retry-after': 'soon' } }),
    answer(204)))
  const sender = await buildSender(t, { retry: { jitter: 0, maxRetryAfter: 600, schedule: [5, 5, 5, 5, 5] } })
  await sender.app.webhooks.deliver(receiver.url, { type: 'ping' })
  const waits: number[] = []
  for (let attempt = 1; attempt <= 5; attempt++) {
    await until(() => sender.attempts.length === attempt)
    waits.push(((sender.attempts[attempt - 1]?.nextAttemptAt as Date).getTime() - sender.clock.now()) / 1000)
    await sender.advanceToNextAttempt()
  }
  await until(() => sender.outcomes.length === 1)
  t.same(waits, [42, 600, 1, 90, 5], 'as asked; capped; at least 1 s; until the date; an unreadable value is ignored')
  t.match(sender.outcomes[0], { outcome: 'delivered', attempts: 6, status: 204 })
})

t.test('jitter spreads each scheduled wait by up to the fraction asked', async (t) => {
  const receiver = await startRawReceiver(t, answer(500))
  const sender = await buildSender(t, { retry: { jitter: 0.5, schedule: [100] } })
  await sender.app.webhooks.deliver(receiver.url, 'x')
  await until(() => sender.attempts.length === 1)
  const wait = ((sender.attempts[0]?.nextAttemptAt as Date).getTime() - sender.clock.now()) / 1000
  t.ok(wait >= 50 && wait <= 150, `${wait} s`)
})

t.test('410 Gone stops, and the endpoint takes nothing more until it is restored', async (t) => {
  const receiver = await startRawReceiver(t, answer(410))
  const sender = await buildSender(t)
  const { id } = await sender.app.webhooks.deliver(receiver.url, { type: 'ping' })
  await until(() => sender.outcomes.length === 1)
  t.same(sender.outcomes, [{ id, url: receiver.url, outcome: 'gone', attempts: 1, status: 410 }])
  t.same(sender.app.webhooks.goneEndpoints(), [receiver.url])
  await t.rejects(sender.app.webhooks.deliver(receiver.url, { type: 'ping' }), { code: 'WEBHOOK_ENDPOINT_GONE', statusCode: 410 })
  t.match(sender.logs.find((line) => line.msg === 'webhook gone'), { level: 40, webhookId: id, url: receiver.url, attempts: 1, status: 410 })
  sender.app.webhooks.restoreEndpoint(receiver.url)
  receiver.respond = answer(200)
  await sender.app.webhooks.deliver(receiver.url, { type: 'ping' })
  await until(() => sender.outcomes.length === 2)
  t.match(sender.outcomes[1], { outcome: 'delivered' })
})

t.test('jobs already queued for an endpoint that went gone end as gone, without an attempt', async (t) => {
  const receiver = await startRawReceiver(t, answer(503))
  const sender = await buildSender(t, { concurrency: { perEndpoint: 1 } })
  await sender.app.webhooks.deliver(receiver.url, 'first')
  await until(() => sender.attempts.length === 1)
  receiver.respond = answer(410)
  await sender.app.webhooks.deliver(receiver.url, 'second')
  await until(() => sender.outcomes.length === 1)
  await sender.advanceToNextAttempt(sender.attempts[0])
  await until(() => sender.outcomes.length === 2)
  t.match(sender.outcomes[1], { outcome: 'gone', attempts: 1 }, 'the first job: no second attempt')
  t.equal(receiver.requests.length, 2)
})

t.test('the classification of answers: what is retried, what stops', async (t) => {
  const cases: Array<[string, ReturnType<typeof answer>, string, Record<string, unknown>]> = [
    ['400', answer(400), 'failed', { status: 400 }],
    ['401 with a code never to retry', answer(401, { code: 'WEBHOOK_SIGNATURE_INVALID' }), 'failed', { status: 401, code: 'WEBHOOK_SIGNATURE_INVALID' }],
    ['401 with a code that is not the contract\'s', answer(401, { code: 'SOMETHING_ELSE' }), 'failed', { code: 'SOMETHING_ELSE' }],
    ['403 with a body that is not a problem', (response) => { response.writeHead(403, { 'content-type': 'text/plain' }).end('no') }, 'failed', { status: 403 }],
    ['401 WEBHOOK_KEY_UNKNOWN: the receiver has not seen the new key yet', answer(401, { code: 'WEBHOOK_KEY_UNKNOWN' }), 'retry', { code: 'WEBHOOK_KEY_UNKNOWN' }],
    ['503 WEBHOOK_KEY_UNAVAILABLE', answer(503, { code: 'WEBHOOK_KEY_UNAVAILABLE', headers: { 'retry-after': '3' } }), 'retry', { code: 'WEBHOOK_KEY_UNAVAILABLE' }],
    ['408', answer(408), 'retry', { status: 408 }],
    ['429', answer(429), 'retry', { status: 429 }],
    ['500', answer(500), 'retry', { status: 500 }],
    ['302: redirects are not followed', answer(302, { headers: { location: 'http://127.0.0.1:9/elsewhere' } }), 'retry', { status: 302 }],
    ['a problem body over 8 KiB is not read', (response) => { response.writeHead(400, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ code: 'WEBHOOK_KEY_UNKNOWN', pad: 'x'.repeat(9000) })) }, 'failed', { status: 400 }],
    ['a problem body that is not JSON', (response) => { response.writeHead(401, { 'content-type': 'application/json' }).end('{') }, 'failed', { status: 401 }],
    ['200 with a body', (response) => { response.writeHead(200, { 'content-type': 'text/plain' }).end('thanks') }, 'delivered', { status: 200 }]
  ]
  for (const [name, respond, verdict, fields] of cases) {
    const receiver = await startRawReceiver(t, respond)
    const sender = await buildSender(t)
    await sender.app.webhooks.deliver(receiver.url, { type: 'ping' })
    await until(() => sender.attempts.length === 1)
    t.match(sender.attempts[0], { verdict, ...fields }, name)
    if (verdict === 'retry') t.same(sender.outcomes, [], `${name}: not finished`)
  }
})

t.test('a receiver that hangs past the timeout: the attempt is cut at delivery.timeout and retried', async (t) => {
  const receiver = await startRawReceiver(t, () => {})
  const sender = await buildSender(t, { timeout: 2 })
  await sender.app.webhooks.deliver(receiver.url, { type: 'ping' })
  await until(() => receiver.requests.length === 1)
  sender.clock.advance(1999)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(sender.attempts.length, 0, 'still waiting just before the deadline')
  sender.clock.advance(1)
  await until(() => sender.attempts.length === 1)
  t.match(sender.attempts[0], { verdict: 'retry', error: 'timeout', durationMs: 2000 })
  t.notOk('status' in (sender.attempts[0] as object))
})

t.test('a receiver that closes the connection, and one that is not there: network errors are retried', async (t) => {
  const receiver = await startRawReceiver(t, (response) => { response.socket?.destroy() })
  const sender = await buildSender(t)
  await sender.app.webhooks.deliver(receiver.url, { type: 'ping' })
  await sender.app.webhooks.deliver(await closedPortUrl(), { type: 'ping' })
  await until(() => sender.attempts.length === 2)
  t.same(sender.attempts.map((attempt) => attempt.verdict), ['retry', 'retry'])
  t.same(new Set(sender.attempts.map((attempt) => typeof attempt.error)), new Set(['string']))
  t.ok(sender.attempts.some((attempt) => attempt.error === 'ECONNREFUSED'), 'the system error is named')
})

t.test('when the schedule is used up, the delivery fails', async (t) => {
  const receiver = await startRawReceiver(t, answer(500))
  const sender = await buildSender(t, { retry: { jitter: 0, schedule: ['1s', '2m'] } })
  const { id } = await sender.app.webhooks.deliver(receiver.url, 'payload', { id: 'wh_fixed', audience: 'https://receiver.example', contentType: 'text/plain' })
  t.equal(id, 'wh_fixed')
  await until(() => sender.attempts.length === 1)
  await sender.advanceToNextAttempt()
  await until(() => sender.attempts.length === 2)
  t.equal((sender.attempts[1]?.nextAttemptAt as Date).getTime() - sender.clock.now(), 120_000)
  await sender.advanceToNextAttempt()
  await until(() => sender.outcomes.length === 1)
  t.match(sender.attempts[2], { attempt: 3, verdict: 'failed', nextAttemptAt: null })
  t.same(sender.outcomes, [{ id: 'wh_fixed', url: receiver.url, outcome: 'failed', attempts: 3, status: 500 }])
  t.same(receiver.requests.map((request) => [request.claims.aud, request.headers['content-type']]), Array(3).fill(['https://receiver.example', 'text/plain']))
})

t.test('concurrency: at most perEndpoint attempts per origin, total in all; the rest wait their turn', async (t) => {
  const held: Array<() => void> = []
  const hold = (response: import('node:http').ServerResponse): void => { held.push(() => response.writeHead(200).end()) }
  const [slow, other] = [await startRawReceiver(t, hold), await startRawReceiver(t, hold)]
  const sender = await buildSender(t, { concurrency: { perEndpoint: 2, total: 3 } })
  for (let i = 0; i < 5; i++) await sender.app.webhooks.deliver(slow.url, { i })
  for (let i = 0; i < 3; i++) await sender.app.webhooks.deliver(other.url, { i })
  await until(() => held.length === 3)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(slow.inFlight, 2, 'two at a time to one origin')
  t.equal(other.inFlight, 1, 'and three in all')
  let peak = 0
  while (sender.outcomes.length < 8) {
    peak = Math.max(peak, slow.inFlight + other.inFlight)
    held.shift()?.()
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  t.ok(peak <= 3, `never more than three at once (${peak})`)
  t.equal(sender.outcomes.filter((outcome) => outcome.outcome === 'delivered').length, 8)
})

t.test('deliver() checks its arguments', async (t) => {
  const sender = await buildSender(t)
  await t.rejects(sender.app.webhooks.deliver('ftp://example.com/hooks', {}), { name: 'TypeError', message: /"url" must be an absolute http: or https: URL/ })
  await t.rejects(sender.app.webhooks.deliver('/relative', {}), { name: 'TypeError', message: /"url"/ })
  await t.rejects(sender.app.webhooks.deliver(42 as unknown as string, {}), { name: 'TypeError', message: '"url" must be an absolute http: or https: URL (got 42)' })
  await t.rejects(sender.app.webhooks.deliver('http://127.0.0.1:9/hooks', {}, { audience: '' }), { message: /"audience" must be a non-empty string/ })
  await t.rejects(sender.app.webhooks.deliver('http://127.0.0.1:9/hooks', undefined), { message: /JSON-serialisable/ })
  t.throws(() => sender.app.webhooks.restoreEndpoint('nope'), TypeError)
})

t.test('delivery options are validated at registration, naming the option', async (t) => {
  const cases: Array<[unknown, string, RegExp]> = [
    ['fast', 'delivery', /must be an object/],
    [{ timeout: 0 }, 'delivery.timeout', /more than 0/],
    [{ retry: { schedule: 5 } }, 'delivery.retry.schedule', /array of durations/],
    [{ retry: { schedule: ['5s', 'later'] } }, 'delivery.retry.schedule[1]', /./],
    [{ retry: { jitter: 1 } }, 'delivery.retry.jitter', /from 0 to below 1/],
    [{ retry: { jitter: '0.2' } }, 'delivery.retry.jitter', /fraction/],
    [{ concurrency: { perEndpoint: 0 } }, 'delivery.concurrency.perEndpoint', /at least 1/],
    [{ concurrency: { total: 2.5 } }, 'delivery.concurrency.total', /whole number/],
    [{ queue: {} }, 'delivery.queue', /must be a delivery queue/],
    [{ onUndelivered: 'log' }, 'delivery.onUndelivered', /must be a function/],
    [{ pollInterval: 'often' }, 'delivery.pollInterval', /./],
    [{ allowedNetworks: '10.0.0.0/8' }, 'delivery.allowedNetworks', /must be an array of networks in CIDR notation/],
    [{ allowedNetworks: ['10.0.0.0/8', '10.0.0.1'] }, 'delivery.allowedNetworks[1]', /must be a network in CIDR notation.*\(got "10\.0\.0\.1"\)/],
    [{ allowedNetworks: ['10.0.0.0/33'] }, 'delivery.allowedNetworks[0]', /CIDR/],
    [{ allowedNetworks: ['fd00::/129'] }, 'delivery.allowedNetworks[0]', /CIDR/],
    [{ allowedNetworks: ['internal.example/24'] }, 'delivery.allowedNetworks[0]', /CIDR/],
    [{ allowedNetworks: ['fe80::%eth0/10'] }, 'delivery.allowedNetworks[0]', /CIDR/],
    [{ allowedNetworks: [8] }, 'delivery.allowedNetworks[0]', /CIDR/],
    [{ allowedNetworks: ['::ffff:10.0.0.0/104'] }, 'delivery.allowedNetworks[0]', /must give an IPv4-mapped network as IPv4, such as '10\.0\.0\.0\/8'/]
  ]
  for (const [delivery, option, message] of cases) {
    t.match(await startupError({ keyStore: memoryKeyStore(), delivery }), { code: 'WEBHOOK_INVALID_OPTION', option, message }, option)
  }
})

t.test('shutdown with deliveries in flight: each is delivered, or reported as undelivered, none dropped', async (t) => {
  const fast = await startRawReceiver(t, answer(200))
  const hanging = await startRawReceiver(t, () => {})
  const flaky = await startRawReceiver(t, answer(503))
  const reported: UndeliveredWebhook[][] = []
  const sender = await buildSender(t, { closeTimeout: 0.2, onUndelivered: (webhooks) => { reported.push(webhooks) } })
  const delivered = await sender.app.webhooks.deliver(fast.url, { n: 1 })
  await until(() => sender.outcomes.length === 1)
  const waitingRetry = await sender.app.webhooks.deliver(flaky.url, { n: 2 })
  await until(() => sender.attempts.length === 2)
  const inFlight = await sender.app.webhooks.deliver(hanging.url, { n: 3 })
  await until(() => hanging.requests.length === 1)
  const started = Date.now()
  await sender.app.close()
  t.ok(Date.now() - started < 5000, 'the hanging attempt was cut after closeTimeout')
  t.equal(reported.length, 1, 'onUndelivered was called once')
  t.same(reported[0]?.map((webhook) => [webhook.id, webhook.url, webhook.attempts, webhook.body.toString()]).sort(), [
    [inFlight.id, hanging.url, 1, '{"n":3}'],
    [waitingRetry.id, flaky.url, 1, '{"n":2}']
  ].sort())
  t.same(sender.outcomes.map((outcome) => [outcome.id, outcome.outcome]).sort(), [[delivered.id, 'delivered'], [inFlight.id, 'undelivered'], [waitingRetry.id, 'undelivered']].sort())
  t.match(sender.attempts.find((attempt) => attempt.id === inFlight.id), { attempt: 1, verdict: 'interrupted', error: 'closed', nextAttemptAt: null }, 'the cut attempt is reported, and counted')
  t.equal(sender.logs.filter((line) => line.msg === 'webhook undelivered: the producer closed before it was delivered').length, 2)
  await t.rejects(sender.app.webhooks.deliver(fast.url, {}), { code: 'WEBHOOK_PRODUCER_CLOSED' })
})

t.test('attempts that finish within closeTimeout are waited for, and a failing onUndelivered is logged', async (t) => {
  const slow = await startRawReceiver(t, (response) => { setTimeout(() => response.writeHead(200).end(), 100) })
  const flaky = await startRawReceiver(t, answer(500))
  const sender = await buildSender(t, { closeTimeout: 5, onUndelivered: () => { throw new Error('dead-letter store down') } })
  await sender.app.webhooks.deliver(flaky.url, {})
  await until(() => sender.attempts.length === 1)
  await sender.app.webhooks.deliver(slow.url, {})
  await until(() => slow.requests.length === 1)
  await sender.app.close()
  t.same(sender.outcomes.map((outcome) => outcome.outcome).sort(), ['delivered', 'undelivered'])
  t.match(sender.logs.find((line) => line.msg === 'delivery.onUndelivered failed; the webhooks above were not delivered'), { level: 50, count: 1, err: { message: 'dead-letter store down' } })
})

t.test('deliveries accepted before the app is ready go out once it is', async (t) => {
  const receiver = await startRawReceiver(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(producer, { issuer: 'https://sender.test', keyStore: memoryKeyStore(), rotation: { every: false }, delivery: { allowedNetworks: LOOPBACK_NETWORKS } })
  const outcomes: DeliveryOutcomeEvent[] = []
  app.webhooks.on('outcome', (event) => outcomes.push(event))
  await app.webhooks.deliver(receiver.url, { early: true })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(receiver.requests.length, 0, 'nothing sent before ready')
  await app.ready()
  await until(() => outcomes.length === 1)
  t.match(outcomes, [{ outcome: 'delivered', attempts: 1, status: 204 }])
})

t.test('a queue that fails: taking is retried after 5 s, and a job it cannot settle is reported at close', async (t) => {
  const receiver = await startRawReceiver(t)
  const inner = memoryDeliveryQueue()
  let failTake = 1
  let failSettle = 0
  const queue: DeliveryQueue = {
    description: 'flaky test queue',
    add: async (job) => await inner.add(job),
    take: async (now, max, accept) => {
      if (failTake-- > 0) throw new Error('queue unreachable')
      return await inner.take(now, max, accept)
    },
    settle: async (job, next) => {
      if (failSettle-- > 0) throw new Error('settle lost')
      await inner.settle(job, next)
    },
    nextDueAt: async () => await inner.nextDueAt(),
    close: async (unsettled) => await inner.close(unsettled)
  }
  const reported: UndeliveredWebhook[] = []
  const sender = await buildSender(t, { queue, onUndelivered: (webhooks) => { reported.push(...webhooks) } })
  await sender.app.webhooks.deliver(receiver.url, { n: 1 })
  await until(() => sender.logs.some((line) => line.msg === 'webhook delivery queue failed; trying again in 5 s'))
  t.equal(receiver.requests.length, 0)
  await until(() => sender.clock.pending > 0)
  sender.clock.advance(5000)
  await until(() => sender.outcomes.length === 1)
  t.match(sender.outcomes[0], { outcome: 'delivered' })
  failSettle = 1
  const lost = await sender.app.webhooks.deliver(receiver.url, { n: 2 })
  await until(() => sender.logs.some((line) => line.msg === 'webhook delivery attempt failed before it could be settled; the webhook will be reported as undelivered at close'))
  await sender.app.close()
  t.same(reported.map((webhook) => webhook.id), [lost.id], 'delivered, but its settlement was lost: reported, never silently dropped')
})

t.test('a listener that throws changes nothing', async (t) => {
  const receiver = await startRawReceiver(t, inTurn(answer(503), answer(200)))
  const sender = await buildSender(t)
  sender.app.webhooks.on('attempt', () => { throw new Error('metrics down') })
  sender.app.webhooks.on('outcome', () => { throw new Error('metrics down') })
  await sender.app.webhooks.deliver(receiver.url, {})
  await until(() => sender.attempts.length === 1)
  await sender.advanceToNextAttempt()
  await until(() => sender.outcomes.length === 1)
  t.match(sender.outcomes, [{ outcome: 'delivered', attempts: 2 }])
  t.ok(sender.logs.some((line) => line.msg === 'a webhook attempt listener failed'))
  t.ok(sender.logs.some((line) => line.msg === 'a webhook outcome listener failed'))
})

t.test('an attempt that starts after close() cut attempts short stops at once instead of running to its timeout', async (t) => {
  const receiver = await startRawReceiver(t, () => {})
  const closing = new AbortController()
  closing.abort()
  const started = Date.now()
  const agent = guardedAgent(new DestinationPolicy(LOOPBACK_NETWORKS))
  t.teardown(() => agent.destroy())
  const answer = await sendAttempt({ url: receiver.url, headers: {}, body: Buffer.from('{}'), timeoutMs: 60_000, clock: systemClock, closing: closing.signal, agent })
  t.match(answer, { kind: 'network' })
  t.ok(Date.now() - started < 5000)
})

t.test('one slow endpoint does not hold back the others: its waiting jobs stay in the queue', async (t) => {
  const held: Array<() => void> = []
  const slow = await startRawReceiver(t, (response) => { held.push(() => response.writeHead(200).end()) })
  const fast = await startRawReceiver(t)
  const queue = memoryDeliveryQueue()
  let taken = 0
  const counting: DeliveryQueue = { ...queue, take: async (now, max, accept) => { const jobs = await queue.take(now, max, accept); taken += jobs.length; return jobs } }
  const sender = await buildSender(t, { queue: counting, concurrency: { perEndpoint: 2, total: 4 } })
  for (let i = 0; i < 50; i++) await sender.app.webhooks.deliver(slow.url, { i })
  await sender.app.webhooks.deliver(fast.url, { fast: true })
  await until(() => sender.outcomes.length === 1)
  t.match(sender.outcomes[0], { url: fast.url, outcome: 'delivered' }, 'the fast endpoint got its delivery while the slow one was full')
  t.equal(taken, 3, 'two for the slow endpoint, one for the fast one: the other 48 were never taken out of the queue')
  while (sender.outcomes.length < 51) {
    held.shift()?.()
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  t.equal(sender.outcomes.filter((outcome) => outcome.outcome === 'delivered').length, 51)
})

t.test('an idle producer polls its queue, for jobs another replica or an expired lease made due', async (t) => {
  const receiver = await startRawReceiver(t)
  const queue = { ...memoryDeliveryQueue(), shared: true }
  const sender = await buildSender(t, { queue, pollInterval: 2 })
  await until(() => sender.clock.pending > 0)
  // Added behind the producer's back, as another replica would.
  await queue.add({ id: 'wh_elsewhere', url: receiver.url, audience: receiver.url, contentType: 'application/json', body: Buffer.from('{}'), attempts: 0, acceptedAt: sender.clock.now(), notBefore: sender.clock.now() })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(receiver.requests.length, 0, 'not seen before the poll')
  sender.clock.advance(2000)
  await until(() => sender.outcomes.length === 1)
  t.match(sender.outcomes[0], { id: 'wh_elsewhere', outcome: 'delivered' })
})

t.test('close() is bounded even when the queue hangs: what is in hand is reported', async (t) => {
  const receiver = await startRawReceiver(t)
  const inner = memoryDeliveryQueue()
  let hang = false
  const queue: DeliveryQueue = {
    ...inner,
    settle: async (job, next) => {
      if (hang) await new Promise(() => {})
      await inner.settle(job, next)
    }
  }
  const reported: UndeliveredWebhook[] = []
  const sender = await buildSender(t, { queue, closeTimeout: 0.1, onUndelivered: (webhooks) => { reported.push(...webhooks) } })
  hang = true
  const { id } = await sender.app.webhooks.deliver(receiver.url, {})
  await until(() => sender.attempts.length === 1)
  const started = Date.now()
  await sender.app.close()
  t.ok(Date.now() - started < 3000, 'closed after the bounded waits')
  t.same(reported.map((webhook) => webhook.id), [id], 'delivered, but never settled: reported rather than dropped')
})

t.test('with an empty schedule there are no retries: a refused connection fails the delivery at once, with no status', async (t) => {
  const sender = await buildSender(t, { retry: { schedule: [] } })
  const url = await closedPortUrl()
  const { id } = await sender.app.webhooks.deliver(url, {})
  await until(() => sender.outcomes.length === 1)
  t.match(sender.attempts, [{ attempt: 1, verdict: 'failed', error: 'ECONNREFUSED', nextAttemptAt: null }])
  t.same(sender.outcomes, [{ id, url, outcome: 'failed', attempts: 1, error: 'ECONNREFUSED' }])
})
