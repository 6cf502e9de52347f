import type { Redis } from 'ioredis'
import { WebhookOptionError, describeValue, objectOption, parseDuration, type Duration } from '@webhook-jwt/protocol'
import type * as Producer from '@webhook-jwt/producer'
import type { KeyStore, KeyStoreLease, StoredKeySet } from '@webhook-jwt/producer'
import { closeOwned, connectOwned, openConnection, readCommandTimeout, withTimeout, type RedisConnection } from './connection.ts'

/** Options of `redisKeyStore`. Durations are in seconds, or strings such as `'30s'`. */
export interface RedisKeyStoreOptions {
  /** The Redis server: a URL, ioredis options, or an ioredis client of yours. */
  connection: RedisConnection
  /** Prefix of the keys and the channel this store uses; one prefix per producer (per issuer). Default `'webhook-jwt:{signing-keys}:'`. */
  prefix?: string
  /**
   * How long a replica may go on signing and serving its key set without confirming it in Redis. Replicas
   * re-read the set on every change notification and every third of this; it is added to the rotation's
   * safety waits. Default 30.
   */
  maxStaleness?: Duration
  /** How long the step lease lasts if its holder never releases it (it died or paused). Default 15. */
  leaseTtl?: Duration
  /** How long one Redis call may take before it counts as failed. Default 1 (second); `'500ms'` is accepted. */
  commandTimeout?: Duration
}

/** Defaults of `redisKeyStore`. */
export const DEFAULT_KEY_STORE_PREFIX = 'webhook-jwt:{signing-keys}:'
export const DEFAULT_MAX_STALENESS = 30
export const DEFAULT_LEASE_TTL = 15

// Keys: <prefix>set (the key set document), <prefix>revision (its revision, compared on write),
// <prefix>lease (the current fence, with a TTL), <prefix>fence (the fence counter); channel <prefix>changed.
// The hash tag in the default prefix keeps them in one slot, so the scripts also run on a Redis Cluster.

// A lease is granted only while none is held; every grant takes the next fence.
const TAKE_LEASE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], fence, 'PX', ARGV[1])
return fence`

const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`

// The fencing check and the revision check, then the write and the notification, in one atomic script: a
// replica whose lease lapsed while it paused cannot store a step planned on what it read before.
const WRITE = `
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return 'FENCED' end
local current = redis.call('GET', KEYS[2])
if (current or '') ~= ARGV[2] then return 'CONFLICT' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[4])
redis.call('PUBLISH', KEYS[4], ARGV[4])
return 'OK'`

let producer: Promise<typeof Producer> | undefined

/**
 * The producer's key-store errors, loaded on a key store's first call rather than with this module:
 * @webhook-jwt/producer is an optional peer, absent from a consumer-only app that imports this package for
 * `redisReplayStore`.
 */
async function producerErrors (): Promise<typeof Producer> {
  producer ??= import('@webhook-jwt/producer')
  return await producer
}

function readSeconds (value: unknown, fallback: number, option: string): number {
  const seconds = parseDuration((value ?? fallback) as Duration, option)
  if (seconds < 1) throw new WebhookOptionError(option, 'must be at least 1 second')
  return seconds
}

/**
 * Keeps the producer's keys in Redis, shared by every replica: one key set, one JWKS, one rotation. Each step is
 * applied by one replica under a lease with a fence; the others hear of it on a pub/sub channel, and re-read the
 * set every third of `maxStaleness` in case a notification was lost. Private keys are stored only encrypted:
 * the producer refuses to start without `keyEncryptionKey`. Redis should persist (`appendonly yes`); a replica
 * that finds the set gone writes back the keys it holds.
 *
 * @example
 * app.register(webhookProducer, {
 *   issuer: 'https://sender.example',
 *   keyStore: redisKeyStore({ connection: 'redis://redis.internal:6379' }),
 *   keyEncryptionKey: process.env.WEBHOOK_KEY_ENCRYPTION_KEY
 * })
 */
export function redisKeyStore (options: RedisKeyStoreOptions): KeyStore {
  const raw = objectOption(options, 'redisKeyStore') as Partial<RedisKeyStoreOptions>
  const prefix = raw.prefix ?? DEFAULT_KEY_STORE_PREFIX
  if (typeof prefix !== 'string' || prefix === '') throw new WebhookOptionError('redisKeyStore.prefix', `must be a non-empty string (got ${describeValue(prefix)})`)
  const maxStaleness = readSeconds(raw.maxStaleness, DEFAULT_MAX_STALENESS, 'redisKeyStore.maxStaleness')
  const leaseTtlMs = readSeconds(raw.leaseTtl, DEFAULT_LEASE_TTL, 'redisKeyStore.leaseTtl') * 1000
  const timeoutMs = readCommandTimeout(raw.commandTimeout, 'redisKeyStore.commandTimeout')
  const connection = openConnection(raw.connection, 'redisKeyStore.connection')
  const { client } = connection
  const keys = { set: `${prefix}set`, revision: `${prefix}revision`, lease: `${prefix}lease`, fence: `${prefix}fence`, changed: `${prefix}changed` }
  const description = `redis ${prefix}`
  const subscribers = new Set<Redis>()

  /** One bounded Redis call; any failure is the store being unavailable. */
  async function call<T> (what: string, command: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      await withTimeout(connectOwned(connection), timeoutMs, 'connecting')
      return await withTimeout(command(client), timeoutMs, what)
    } catch (error) {
      const { KeyStoreUnavailableError } = await producerErrors()
      throw new KeyStoreUnavailableError(description, `${what}: ${(error as Error).message}`)
    }
  }

  // A message already on its way is still read after disconnect(): the listeners go first.
  function stop (subscriber: Redis): void {
    subscribers.delete(subscriber)
    subscriber.removeAllListeners('message').removeAllListeners('ready')
    subscriber.disconnect()
  }

  function lease (fence: number): KeyStoreLease {
    return {
      fence,
      async release () {
        await call('releasing the lease', async (redis) => await redis.eval(RELEASE_LEASE, 1, keys.lease, String(fence)))
      }
    }
  }

  return {
    description,
    maxStaleness,
    requiresEncryption: true,
    async read () {
      const text = await call('reading the key set', async (redis) => await redis.get(keys.set))
      if (text === null) return null
      const { KeyStoreCorruptError } = await producerErrors()
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        throw new KeyStoreCorruptError(description, 'it is not valid JSON')
      }
      if (!Number.isSafeInteger((parsed as { revision?: unknown } | null)?.revision)) throw new KeyStoreCorruptError(description, 'it has no revision number')
      return parsed as StoredKeySet
    },
    async write (keySet, expectedRevision, held) {
      const { KeyStoreConflictError, KeyStoreFencedError, KeyStoreUnavailableError } = await producerErrors()
      // Defence in depth: the producer encrypts whenever this store is used, and this store never holds a plain private key.
      if (keySet.keys.some((key) => key.privateKey !== null && key.privateKey.format !== 'A256GCM')) {
        throw new KeyStoreUnavailableError(description, 'refusing to store a private key that is not encrypted')
      }
      if (held === undefined) throw new KeyStoreFencedError(description)
      const outcome = await call('writing the key set', async (redis) => await redis.eval(
        WRITE, 4, keys.set, keys.revision, keys.lease, keys.changed,
        JSON.stringify(keySet), expectedRevision === null ? '' : String(expectedRevision), String(held.fence), String(keySet.revision)
      ))
      if (outcome === 'FENCED') throw new KeyStoreFencedError(description)
      if (outcome === 'CONFLICT') throw new KeyStoreConflictError(description)
    },
    async lease () {
      const fence = await call('taking the step lease', async (redis) => await redis.eval(TAKE_LEASE, 2, keys.lease, keys.fence, String(leaseTtlMs)))
      return fence === null ? null : lease(Number(fence))
    },
    watch (onChange) {
      const subscriber = client.duplicate({ enableOfflineQueue: true, lazyConnect: false })
      subscribers.add(subscriber)
      subscriber.on('message', onChange)
      // Notifications sent while the subscription was down are lost: a re-read on every (re)subscription covers them.
      subscriber.on('ready', onChange)
      // Errors are the connection's; the periodic re-read notices an unavailable store and the producer reports it.
      subscriber.on('error', () => {})
      subscriber.subscribe(keys.changed).catch(() => {})
      return () => stop(subscriber)
    },
    async close () {
      for (const subscriber of subscribers) stop(subscriber)
      await closeOwned(connection)
    }
  }
}
