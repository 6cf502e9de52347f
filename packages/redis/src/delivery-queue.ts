import { createHash, randomUUID } from 'node:crypto'
import { Queue, Worker, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import { describeValue, objectOption, parseDuration, positiveInteger, WebhookOptionError, type Duration } from '@webhook-jwt/protocol'
import type { DeliveryJob, DeliveryQueue } from '@webhook-jwt/producer'
import { closeOwned, connectOwned, openConnection, readCommandTimeout, withTimeout, type OpenedConnection, type RedisConnection } from './connection.ts'

/** Options of `bullmqDeliveryQueue`. Durations in seconds, or strings such as `'30s'`. */
export interface BullmqDeliveryQueueOptions {
  /**
   * The Redis server: a `redis://` or `rediss://` URL, ioredis options, or an ioredis client of yours (left
   * open on close; it must not set `keyPrefix`: use `prefix`).
   */
  connection: RedisConnection
  /** The BullMQ queue name; every replica of one producer uses the same. Default `'webhook-jwt-deliveries'`. */
  name?: string
  /** BullMQ's key prefix. Default `'bull'`, BullMQ's own. */
  prefix?: string
  /**
   * How long a replica's lease on a job it holds lasts; it renews the lease every half of it while it holds
   * the job. When a replica dies, its jobs are due again within 1.5 × this. Default 30, at least 1.
   */
  lockDuration?: Duration
  /**
   * How many jobs refused for a busy endpoint this replica holds (leased, not attempted) while it looks
   * further down the queue for work for other endpoints. Default 1000.
   */
  lookahead?: number
  /** Bound on each Redis call: past it, the call rejects. Default 1. */
  commandTimeout?: Duration
}

export const DEFAULT_DELIVERY_QUEUE_NAME = 'webhook-jwt-deliveries'
export const DEFAULT_LOCK_DURATION = 30
export const DEFAULT_LOOKAHEAD = 1000
const MIN_LOCK_DURATION = 1
const JOB_NAME = 'delivery'

/** How a job is stored: the DeliveryJob as JSON, its body in base64. */
interface StoredJob extends Omit<DeliveryJob, 'body'> {
  body: string
}

/** A job this replica leases: BullMQ moved it to active under `token`, and only that token can move it on. */
interface Lease {
  bullJob: Job<StoredJob>
  token: string
  job: DeliveryJob
}

/** The BullMQ side, created at the first call (so that nothing connects before the producer starts). */
interface Connected {
  queue: Queue<StoredJob>
  worker: Worker<StoredJob>
  workerClient: Redis
}

/** One BullMQ job per webhook and URL: adding the same webhook to the same URL again while it is queued does nothing. BullMQ ids cannot contain ':', URLs do: hashed. */
function jobIdOf (job: Pick<DeliveryJob, 'id' | 'url'>): string {
  return createHash('sha256').update(job.id).update('\n').update(job.url).digest('hex')
}

const toStored = (job: DeliveryJob): StoredJob => ({ ...job, body: job.body.toString('base64') })
const fromStored = (stored: StoredJob): DeliveryJob => ({ ...stored, body: Buffer.from(stored.body, 'base64') })

function readText (value: unknown, fallback: string, option: string, rule?: RegExp): string {
  const text = value ?? fallback
  if (typeof text !== 'string' || text === '' || (rule !== undefined && rule.test(text))) {
    throw new WebhookOptionError(option, `must be a non-empty string${rule === undefined ? '' : ' without ":"'} (got ${describeValue(text)})`)
  }
  return text
}

function adoptedOrOwned (value: unknown): OpenedConnection {
  if (value === undefined) throw new WebhookOptionError('connection', 'is required: a redis:// or rediss:// URL, ioredis options, or an ioredis client')
  const connection = openConnection(value, 'connection')
  if (connection.client.options.keyPrefix !== undefined && connection.client.options.keyPrefix !== '') {
    if (connection.owned) connection.client.disconnect()
    throw new WebhookOptionError('connection', 'must not set keyPrefix, which BullMQ does not support: set the queue\'s "prefix" instead')
  }
  return connection
}

/**
 * A durable delivery queue on BullMQ, shared by every replica of a producer: a webhook accepted by one replica
 * survives its crash and is attempted by another, on the same schedule and classification (the producer
 * keeps owning them; the queue keeps jobs between attempts and leases the jobs a replica took).
 *
 * Delivery is at least once: a replica that dies while an attempt is in flight leaves the job leased until
 * the lease expires, and another replica attempts it again (receivers deduplicate on `webhook_id`).
 *
 * @example
 * import { bullmqDeliveryQueue } from '@webhook-jwt/redis'
 * app.register(webhookProducer, { issuer, delivery: { queue: bullmqDeliveryQueue({ connection: 'redis://127.0.0.1:6379' }) } })
 */
export function bullmqDeliveryQueue (options: BullmqDeliveryQueueOptions): DeliveryQueue {
  const raw = objectOption(options, 'options') as Partial<BullmqDeliveryQueueOptions>
  const name = readText(raw.name, DEFAULT_DELIVERY_QUEUE_NAME, 'name', /:/)
  const prefix = readText(raw.prefix, 'bull', 'prefix')
  const lockDuration = parseDuration(raw.lockDuration ?? DEFAULT_LOCK_DURATION, 'lockDuration')
  if (lockDuration < MIN_LOCK_DURATION) throw new WebhookOptionError('lockDuration', `must be at least ${MIN_LOCK_DURATION} s: the lease is renewed every half of it (got ${describeValue(raw.lockDuration)})`)
  const lookahead = positiveInteger(raw.lookahead, DEFAULT_LOOKAHEAD, 'lookahead')
  const commandTimeoutMs = readCommandTimeout(raw.commandTimeout, 'commandTimeout')
  const lockDurationMs = lockDuration * 1000
  const connection = adoptedOrOwned(raw.connection)

  /** Taken by the producer and not settled yet, by BullMQ job id. */
  const inHand = new Map<string, Lease>()
  /**
   * Refused jobs (their endpoint was busy) and jobs not due yet at `take`'s `nowMs`, in the order BullMQ
   * handed them out.
   *
   * BullMQ cannot look at a job without taking it, so a job `accept` refuses has already been moved to
   * active. Moving it back (`moveToWait` pushes it to the head of the list) would keep its place, but the
   * next take would pull it out again first: every take would move all the refused jobs out and back, and
   * with more refused jobs than a take looks at, the jobs behind them (other endpoints) would never be
   * reached. So this replica keeps them leased, renews their locks with the jobs in hand, and offers them
   * first on the next take: each job is fetched once, nothing counts an attempt, and their order is
   * kept (they were fetched before anything still in Redis). The cost: while this replica holds them,
   * another replica cannot take them; close() gives them back at once, and a crash once their leases expire.
   */
  const held: Lease[] = []
  let connected: Connected | null = null
  let closed = false

  const bounded = async <T>(promise: Promise<T>, what: string): Promise<T> => await withTimeout(promise, commandTimeoutMs, `${what} (BullMQ queue "${name}")`)
  /** Closes gracefully within the bound, else drops the connections. */
  const shut = async (closing: Promise<unknown>, target: { disconnect: () => unknown }, what: string): Promise<void> => {
    try {
      await bounded(closing, what)
    } catch {
      await target.disconnect()
    }
  }

  function connect (): Connected {
    if (closed) throw new Error(`the BullMQ delivery queue "${name}" is closed`)
    if (connected !== null) return connected
    const client = connection.client
    // BullMQ connects a client left waiting (lazyConnect) itself, and gives up for good if that first attempt
    // fails; a client already connecting waits through its reconnections instead. So ours is connecting first.
    connectOwned(connection).catch(() => {})
    // BullMQ requires maxRetriesPerRequest: null for a worker's connections; no offline queue, so that a
    // call made while Redis is away fails at once instead of waiting for it.
    const workerClient = client.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: false, lazyConnect: false })
    workerClient.on('error', () => {})
    const queue = new Queue<StoredJob>(name, { connection: client, prefix })
    const worker = new Worker<StoredJob>(name, null, {
      connection: workerClient,
      prefix,
      autorun: false,
      lockDuration: lockDurationMs,
      // Our lock renewal below; BullMQ's lock manager only runs for jobs its own processor takes.
      skipLockRenewal: true,
      // Jobs whose lease expired go back to wait; the check runs at most once per interval across replicas.
      stalledInterval: lockDurationMs / 2,
      // The producer counts attempts; a job whose holder died must never be failed for it.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 }
    })
    // Failures reach the caller of each operation; BullMQ's background errors (the stalled check while Redis
    // is away) are retried by BullMQ and need no listener of ours, but an 'error' event without one throws.
    queue.on('error', () => {})
    worker.on('error', () => {})
    worker.startStalledCheckTimer().catch(() => {})
    connected = { queue, worker, workerClient }
    return connected
  }

  /** Renews the locks of every job this replica leases; a held job whose lock was lost is another replica's now. */
  async function renewLocks (): Promise<void> {
    const leases = [...inHand.values(), ...held]
    if (leases.length === 0) return
    try {
      const { worker } = connected as Connected
      const lost = new Set(await bounded(worker.extendJobLocks(leases.map((lease) => lease.bullJob.id as string), leases.map((lease) => lease.token), lockDurationMs), 'renewing leases'))
      for (let index = held.length - 1; index >= 0; index--) {
        if (lost.has((held[index] as Lease).bullJob.id as string)) held.splice(index, 1)
      }
    } catch {
      // Redis is away: the next renewal tries again, and a lease that expires meanwhile makes its job due again.
    }
  }
  // renewLocks never rejects: it catches every failure.
  const renewal = setInterval(renewLocks, lockDurationMs / 2).unref()

  return {
    description: `BullMQ queue "${name}" (prefix "${prefix}")`,
    shared: true,

    async add (job) {
      const { queue } = connect()
      await bounded(queue.add(JOB_NAME, toStored(job), {
        jobId: jobIdOf(job),
        delay: Math.max(0, job.notBefore - Date.now()),
        removeOnComplete: true,
        removeOnFail: true
      }), 'adding a webhook')
    },

    async take (nowMs, max, accept) {
      const { worker } = connect()
      const taken: DeliveryJob[] = []
      const offer = (lease: Lease): boolean => {
        if (lease.job.notBefore > nowMs || !accept(lease.job)) return false
        inHand.set(lease.bullJob.id as string, lease)
        taken.push(lease.job)
        return true
      }
      for (let index = 0; index < held.length && taken.length < max;) {
        if (offer(held[index] as Lease)) held.splice(index, 1)
        else index++
      }
      try {
        while (taken.length < max && held.length < lookahead) {
          const token = randomUUID()
          const bullJob = await bounded(worker.getNextJob(token, { block: false }), 'taking a webhook') as Job<StoredJob> | undefined
          if (bullJob === undefined) break
          const lease: Lease = { bullJob, token, job: fromStored(bullJob.data) }
          if (!offer(lease)) held.push(lease)
        }
      } catch (error) {
        // The jobs already taken are leased to us: hand them over; the failure shows again on the next call.
        if (taken.length === 0) throw error
      }
      return taken
    },

    async settle (job, next) {
      const id = jobIdOf(job)
      const lease = inHand.get(id)
      if (lease === undefined) throw new Error(`webhook ${job.id} to ${job.url} is not leased by this replica`)
      // Whatever happens, this replica stops renewing the lease: if the move fails, the lease expires and the
      // job comes back, to be attempted again.
      inHand.delete(id)
      const { worker } = connect()
      if (next === null) {
        await bounded(lease.bullJob.moveToCompleted(null, lease.token, false), 'finishing a webhook')
        return
      }
      // One script: the new attempt count and due time are stored with the move, or neither is.
      await bounded(worker.getBackend().moveToDelayed(id, Date.now(), Math.max(0, next.notBefore - Date.now()), lease.token, {
        skipAttempt: true,
        fieldsToUpdate: { data: JSON.stringify(toStored(next)) }
      }), 'rescheduling a webhook')
    },

    async nextDueAt () {
      if (held.length > 0) return Math.min(...held.map((lease) => lease.job.notBefore))
      const { queue } = connect()
      const { wait } = await bounded(queue.getJobCounts('wait'), 'counting waiting webhooks')
      if ((wait as number) > 0) return Date.now()
      const [first] = await bounded(queue.getDelayed(0, 0), 'reading the next delayed webhook')
      return first === undefined ? null : first.data.notBefore
    },

    async close (unsettled) {
      if (closed) return []
      closed = true
      clearInterval(renewal)
      if (connected !== null) {
        const { queue, worker, workerClient } = connected
        // Give every leased job back at once, unsettled ones with their attempt count (an attempt cut short
        // counts), so that another replica can take them without waiting for the leases to expire.
        // Released back to front: each goes to the head of the waiting list, so the first ends up first.
        const latest = new Map(unsettled.map((job) => [jobIdOf(job), job]))
        const leases = [...inHand.values(), ...held].reverse()
        inHand.clear()
        held.length = 0
        try {
          for (const lease of leases) {
            const update = latest.get(lease.bullJob.id as string)
            if (update !== undefined && update.attempts !== lease.job.attempts) await bounded(lease.bullJob.updateData(toStored(update)), 'releasing a webhook')
            await bounded(lease.bullJob.moveToWait(lease.token), 'releasing a webhook')
          }
        } catch {
          // Redis is away (or a lease was lost): the leases left expire, and their jobs are due again then.
        }
        await shut(worker.close(true), worker, 'closing the worker')
        await shut(queue.close(), queue, 'closing the queue')
        await shut(workerClient.quit(), workerClient, 'closing the worker connection')
        await shut(closeOwned(connection), connection.client, 'closing the connection')
      } else if (connection.owned) {
        // Never used: never connected.
        connection.client.disconnect()
      }
      // Durable: every job stays in Redis, none is reported as undelivered.
      return []
    }
  }
}
