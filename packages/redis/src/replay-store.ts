import { createHash } from 'node:crypto'
import { WebhookOptionError, describeValue, objectOption, type Duration } from '@webhook-jwt/protocol'
import type { ReplayStore } from '@webhook-jwt/consumer'
import { closeOwned, connectOwned, openConnection, readCommandTimeout, withTimeout, type RedisConnection } from './connection.ts'

/** The default key prefix of `redisReplayStore`. */
export const DEFAULT_REPLAY_PREFIX = 'webhook-jwt:replay:'
/** Keys longer than this many characters are stored as their SHA-256 (a `jti` is up to a token's length). */
export const MAX_PLAIN_KEY_LENGTH = 200

/** Options of `redisReplayStore`. */
export interface RedisReplayStoreOptions {
  /**
   * The Redis server: a `redis://` or `rediss://` URL, ioredis options, or an ioredis client of yours. A client
   * the store opens fails fast while Redis is away (no offline queue) and is closed with the store; a client
   * of yours keeps its own settings and is left open. Required.
   */
  connection: RedisConnection
  /** Put before every key. Default `'webhook-jwt:replay:'`; give `deduplicate.store` another, such as `'webhook-jwt:dedupe:'`. */
  prefix?: string
  /** Bound on each Redis call (connecting included): past it the call fails, and the consumer answers 503. Default 1 s. */
  commandTimeout?: Duration
}

/** A replay store on Redis: every call returns a promise, and it can forget and be closed. */
export interface RedisReplayStore extends ReplayStore {
  /** `nowMs` defaults to `Date.now()`. */
  remember(key: string, expiresAtMs: number, nowMs?: number): Promise<boolean>
  forget(key: string): Promise<void>
  /** Closes the client the store opened (a client of yours is left open); later calls reject. */
  close(): Promise<void>
}

/**
 * A replay store on Redis, shared by every consumer replica: a key is accepted once across all of them
 * (`SET key 1 NX PX ttl`). It is kept for the token's remaining life as the consumer gives it
 * (`expiresAtMs - nowMs`: the token's `exp` plus the clock tolerance, less the consumer's present time),
 * counted by Redis from when it records the key, plus `commandTimeout`; a key already expired is refused
 * without a call. `forget` is `DEL`, so it also serves as `deduplicate.store`.
 * Every call is bounded by `commandTimeout`; a failure or a timeout rejects, and the consumer then answers 503
 * (or, with `replayStoreFailure: 'accept'`, accepts and logs). Options are checked when it is called.
 *
 * @example
 * await app.register(webhookConsumer, {
 *   issuer, jwksUrl, audience,
 *   replayStore: redisReplayStore({ connection: 'redis://redis.internal:6379' }),
 *   deduplicate: { store: redisReplayStore({ connection: 'redis://redis.internal:6379', prefix: 'webhook-jwt:dedupe:' }) }
 * })
 */
export function redisReplayStore (options: RedisReplayStoreOptions): RedisReplayStore {
  const raw = objectOption(options, 'redisReplayStore') as Partial<RedisReplayStoreOptions>
  const prefix = raw.prefix ?? DEFAULT_REPLAY_PREFIX
  if (typeof prefix !== 'string' || prefix === '') {
    throw new WebhookOptionError('redisReplayStore.prefix', `must be a non-empty string, such as 'webhook-jwt:replay:' (got ${describeValue(prefix)})`)
  }
  const timeoutMs = readCommandTimeout(raw.commandTimeout, 'redisReplayStore.commandTimeout')
  // Opened last, once every other option is known to be good: a refused store leaves no client behind.
  const connection = openConnection(raw.connection, 'redisReplayStore.connection')
  const { client } = connection
  // Connection errors reach the consumer as failed calls, which it logs; without a listener, ioredis would
  // also print every reconnection attempt to stderr.
  if (connection.owned) client.on('error', () => {})

  let connecting: Promise<void> | null = null
  let closing: Promise<void> | null = null

  /** Connects an owned client on first use, once however many calls wait on it; a failure lets the next call try again. */
  async function connected (): Promise<void> {
    connecting ??= connectOwned(connection).catch((error: unknown) => {
      connecting = null
      throw error
    })
    await connecting
  }

  /** A plain key stays readable in Redis; a long one (or one that looks hashed) is stored as its digest. */
  function redisKey (key: string): string {
    const plain = key.length <= MAX_PLAIN_KEY_LENGTH && !key.startsWith('#')
    return prefix + (plain ? key : `#${createHash('sha256').update(key).digest('base64url')}`)
  }

  async function call<T> (what: string, command: () => Promise<T>): Promise<T> {
    if (closing !== null) throw new Error(`redisReplayStore.${what}: the store is closed`)
    return await withTimeout((async () => {
      await connected()
      return await command()
    })(), timeoutMs, `redisReplayStore.${what}`)
  }

  return {
    async remember (key, expiresAtMs, nowMs = Date.now()) {
      if (!Number.isFinite(expiresAtMs)) throw new TypeError(`redisReplayStore.remember: expiresAtMs must be a time in milliseconds (got ${String(expiresAtMs)})`)
      if (!Number.isFinite(nowMs)) throw new TypeError(`redisReplayStore.remember: nowMs must be a time in milliseconds (got ${String(nowMs)})`)
      // Recorded, it would live no time: the same token could be accepted again at once.
      if (expiresAtMs <= nowMs) return false
      // Relative (PX, not PXAT), so Redis counts from when it records the key: neither this call's latency nor
      // Redis' clock can shorten it. Plus commandTimeout: a concurrent call for the same token, checked an
      // instant before expiresAtMs, is only accepted if it reached Redis within commandTimeout, and then
      // still finds the key. Rounded up: PX takes whole milliseconds.
      const ttlMs = Math.ceil(expiresAtMs - nowMs + timeoutMs)
      return await call('remember', async () => await client.set(redisKey(key), '1', 'PX', ttlMs, 'NX')) === 'OK'
    },
    async forget (key) {
      await call('forget', async () => await client.del(redisKey(key)))
    },
    async close () {
      // QUIT waits for the server's answer: a server that hangs must not hold the app's close, so past the
      // bound the connection is dropped.
      closing ??= withTimeout(closeOwned(connection), timeoutMs, 'redisReplayStore.close').catch(() => { client.disconnect() })
      await closing
    }
  }
}
