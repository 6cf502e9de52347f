import { Redis, type RedisOptions } from 'ioredis'
import { WebhookOptionError, describeValue, parseDuration, type Duration } from '@webhook-jwt/protocol'

/**
 * How a store reaches Redis: a `redis://` or `rediss://` URL, ioredis options, or an ioredis client of yours
 * (it is then left open on close, and its own retry and queueing settings apply).
 */
export type RedisConnection = string | RedisOptions | Redis

/** Default bound on one Redis command made by a store: past it the command counts as failed. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000

/** Reads a store's `commandTimeout` option (a duration, default 1 s) into milliseconds. */
export function readCommandTimeout (value: Duration | undefined, option: string): number {
  const timeoutMs = parseDuration(value ?? DEFAULT_COMMAND_TIMEOUT_MS / 1000, option) * 1000
  if (timeoutMs <= 0) throw new WebhookOptionError(option, 'must be more than 0')
  return timeoutMs
}

/** A client opened for a store, and whether the store closes it. */
export interface OpenedConnection {
  client: Redis
  owned: boolean
}

// A store's own client fails fast instead of queueing: a webhook must get an answer (a 503, a stale but
// bounded key set) while Redis is away, not wait for it. It keeps reconnecting in the background.
const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2000,
  retryStrategy: (times) => Math.min(times * 100, 1000)
}

function isClient (value: unknown): value is Redis {
  return value instanceof Redis
}

/** Opens (or adopts) the client for `option`; a bad value is refused with a message naming the option. */
export function openConnection (value: unknown, option: string): OpenedConnection {
  if (isClient(value)) return { client: value, owned: false }
  const forStore = { ...FAIL_FAST, lazyConnect: true }
  let client: Redis
  if (typeof value === 'string' && /^rediss?:\/\//.test(value)) client = new Redis(value, forStore)
  else if (typeof value === 'object' && value !== null && !Array.isArray(value)) client = new Redis({ ...(value as RedisOptions), ...forStore })
  else throw new WebhookOptionError(option, `must be a redis:// or rediss:// URL, ioredis options, or an ioredis client (got ${describeValue(value)})`)
  // Connection errors reach the caller through the commands that fail; unhandled, ioredis would print each retry.
  client.on('error', () => {})
  return { client, owned: true }
}

const pendingReady = new WeakMap<Redis, Promise<void>>()

/**
 * Connects a client the store opened lazily (nothing connects before registration succeeds), and waits for a
 * first connection under way. A client that lost its connection is not waited for: its commands fail at
 * once (a store's own client has no offline queue) while it reconnects in the background. Callers bound the wait.
 */
export async function connectOwned (connection: OpenedConnection): Promise<void> {
  const { client } = connection
  if (connection.owned && client.status === 'wait') {
    await client.connect()
    return
  }
  if (client.status !== 'connecting' && client.status !== 'connect') return
  // One listener for all the callers waiting, however many arrive during the first connection.
  let ready = pendingReady.get(client)
  if (ready === undefined) {
    ready = new Promise<void>((resolve) => {
      const settle = (): void => {
        client.off('ready', settle).off('close', settle)
        resolve()
      }
      client.once('ready', settle).once('close', settle)
    }).finally(() => pendingReady.delete(client))
    pendingReady.set(client, ready)
  }
  await ready
}

/** Rejects when `promise` takes longer than `timeoutMs`, so that a store call never waits on Redis unbounded. */
export async function withTimeout<T> (promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${timeoutMs} ms`)), timeoutMs)
    timer.unref()
  })
  try {
    return await Promise.race([promise, expired])
  } finally {
    clearTimeout(timer)
  }
}

/** Closes a client the store opened; an adopted client is the caller's to close. */
export async function closeOwned (connection: OpenedConnection): Promise<void> {
  if (!connection.owned) return
  const { client } = connection
  // QUIT waits for the server's answer: only a ready connection gets one; any other is simply dropped.
  if (client.status === 'ready') await withTimeout(client.quit(), DEFAULT_COMMAND_TIMEOUT_MS, 'QUIT').catch(() => client.disconnect())
  else client.disconnect()
}
