import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import type { DeliveryAttemptEvent, DeliveryOutcomeEvent } from '@webhook-jwt/producer'
import { deleteKeys, redisOrSkip, uniquePrefix } from './support/redis.ts'
import type { ReplicaConfig } from './support/delivery-replica.ts'

// Two producer replicas share one BullMQ delivery queue and one key file. The first, a process of its own,
// dies (SIGKILL) while its attempt is in flight: the receiver holds the request open. The other replica takes
// the job once the dead one's lease expires and delivers it again: same webhook_id, new token, verified by a
// real @webhook-jwt/consumer. The modules under test are loaded only once a Redis server answers.
const REDIS_URL = await redisOrSkip(t, 'the delivery failover between producer replicas')
if (REDIS_URL !== null) await scenario(REDIS_URL)

async function scenario (redisUrl: string): Promise<void> {
  const { bullmqDeliveryQueue } = await import('@webhook-jwt/redis')
  const { fileKeyStore } = await import('@webhook-jwt/producer')
  const { startReceiver, startSender, AUDIENCE, ISSUER } = await import('./support/webhook-pair.ts')
  const { jobCounts } = await import('../packages/redis/test/helpers/bullmq-keys.ts')
  const { until } = await import('../packages/producer/test/helpers/producer-app.ts')
  const LOCK_DURATION = 1

  t.test('a replica dies with a delivery in flight: another replica delivers it again, and the retry verifies', async (t) => {
    const folder = await mkdtemp(join(tmpdir(), 'webhook-jwt-failover-'))
    t.teardown(() => rm(folder, { recursive: true, force: true }))
    const keyFile = join(folder, 'keys.json')
    const prefix = uniquePrefix('failover').slice(0, -1)
    t.teardown(() => deleteKeys(redisUrl, prefix))
    const replicaOptions = (): Parameters<typeof startSender>[1] => ({
      keyStore: fileKeyStore({ path: keyFile }),
      rotation: { every: false },
      delivery: { queue: bullmqDeliveryQueue({ connection: redisUrl, prefix, lockDuration: LOCK_DURATION }), pollInterval: 0.1, allowedNetworks: ['127.0.0.0/8', '::1/128'] }
    })

    // The key endpoint the receiver trusts: a producer on the shared key file, which delivers nothing itself.
    const publisher = await startSender(t, { keyStore: fileKeyStore({ path: keyFile }), rotation: { every: false } })
    // The receiver holds the first request open until the connection drops (its sender died), then answers 200.
    const arrivals: number[] = []
    const bodies: unknown[] = []
    const receiver = await startReceiver(t, publisher.jwksUrl, {}, async (request) => {
      arrivals.push(Date.now())
      bodies.push(request.body)
      if (arrivals.length === 1) await new Promise((resolve) => request.raw.socket.once('close', resolve))
      return { ok: true }
    })

    const config: ReplicaConfig = { issuer: ISSUER, keyFile, redisUrl, prefix, lockDuration: LOCK_DURATION, url: receiver.url.href, audience: AUDIENCE, event: { type: 'order.paid', order: 'o_1' } }
    const child = spawn(process.execPath, ['--conditions=@webhook-jwt/source', '--import', 'tsx', join(import.meta.dirname, 'support', 'delivery-replica.ts'), JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)))
    t.teardown(() => { child.kill('SIGKILL') })
    const messages: Array<{ queued?: string, attempt?: DeliveryAttemptEvent }> = []
    createInterface({ input: child.stdout }).on('line', (line) => messages.push(JSON.parse(line) as { queued?: string }))

    await until(() => receiver.received.length === 1 && messages.some((message) => message.queued !== undefined), 30_000)
    const id = messages.find((message) => message.queued !== undefined)?.queued as string
    t.equal(receiver.received[0]?.id, id, 'the first replica\'s attempt arrived, verified, and is held open')
    child.kill('SIGKILL')
    t.equal(await exited, 'SIGKILL')
    const killedAt = Date.now()
    t.same(messages.filter((message) => message.attempt !== undefined), [], 'the dead replica never saw its attempt end')
    t.match(await jobCounts(redisUrl, 'webhook-jwt-deliveries', prefix), { active: 1, wait: 0 }, 'the job is still leased by the dead replica')

    // The surviving replica, started now: it finds the job leased and takes it once the lease has expired.
    const survivor = await startSender(t, replicaOptions())
    const attempts: DeliveryAttemptEvent[] = []
    const outcomes: DeliveryOutcomeEvent[] = []
    survivor.app.webhooks.on('attempt', (event) => attempts.push(event))
    survivor.app.webhooks.on('outcome', (event) => outcomes.push(event))
    await until(() => outcomes.length === 1, 10_000)
    const waited = (arrivals[1] as number) - killedAt
    t.ok(waited >= 400 && waited <= 1.5 * LOCK_DURATION * 1000 + 2000, `delivered again once the lease expired (${waited} ms after the crash)`)
    t.match(attempts, [{ id, attempt: 1, verdict: 'delivered', status: 200 }], 'the crashed attempt was never recorded: this one counts as the first')
    t.match(outcomes, [{ id, outcome: 'delivered', attempts: 1 }])
    const [first, second] = receiver.received
    t.same(receiver.received.map((webhook) => webhook.id), [id, id], 'the receiver saw the same webhook_id twice: it deduplicates on it')
    t.not(first?.claims.jti, second?.claims.jti, 'the retry is a new token')
    t.equal(second?.kid, first?.kid, 'signed with the key both replicas share')
    t.same(bodies, [config.event, config.event], 'the same body, kept in Redis between the attempts (its digest verified)')
    t.match(await jobCounts(redisUrl, 'webhook-jwt-deliveries', prefix), { wait: 0, active: 0, delayed: 0, completed: 0, failed: 0 }, 'nothing left in Redis')
  })
}
