import { Redis, type RedisOptions } from 'ioredis'
import { WebhookOptionError, describeValue } from '@webhook-jwt/protocol'

/**
 * How a store reaches Redis: a `redis://` or `rediss://` URL, ioredis options, or an ioredis client of yours
 * (it is then left open on close, and its own retry and queueing settings apply).
 */
export type RedisConnection = string | RedisOptions | Redis

/** Default bound on one Redis command made by a store: past it the command counts as failed. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000

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
  if (typeof value === 'string' && /^rediss?:\/\//.test(value)) return { client: new Redis(value, forStore), owned: true }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return { client: new Redis({ ...(value as RedisOptions), ...forStore }), owned: true }
  throw new WebhookOptionError(option, `must be a redis:// or rediss:// URL, ioredis options, or an ioredis client (got ${describeValue(value)})`)
}

const pendingReady = new WeakMap<Redis, Promise<void>>()

/**
 * Resolves once the client can take commands: connects a client the store opened lazily (nothing connects
 * before registration succeeds), and otherwise waits for the (re)connection under way. Callers bound the wait.
 */
export async function connectOwned (connection: OpenedConnection): Promise<void> {
  const { client } = connection
  if (client.status === 'ready') return
  if (connection.owned && client.status === 'wait') {
    await client.connect()
    return
  }
  // One listener for all the callers waiting, however many arrive while Redis is away.
  let ready = pendingReady.get(client)
  if (ready === undefined) {
    ready = new Promise<void>((resolve) => client.once('ready', resolve)).finally(() => pendingReady.delete(client))
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
  await connection.client.quit().catch(() => connection.client.disconnect())
}
