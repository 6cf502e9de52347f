import { createHash } from 'node:crypto'

/**
 * Remembers accepted token ids until their tokens expire. Implement it to share the memory between
 * replicas (on Redis, for instance).
 *
 * @example
 * const store: ReplayStore = { remember: async (key, expiresAtMs) => (await redis.set(key, '1', 'PXAT', expiresAtMs, 'NX')) === 'OK' }
 */
export interface ReplayStore {
  /**
   * Records `key` until `expiresAtMs` (milliseconds since the epoch). Resolves true the first time a key is
   * seen, false for every later time while it is remembered. Throws (or rejects) when it cannot tell: the
   * consumer then answers 503, never accepts (unless it is set to fail open, `replayStoreFailure: 'accept'`).
   */
  remember(key: string, expiresAtMs: number, nowMs: number): boolean | Promise<boolean>
  /** Drops `key`. Needed only by a store used as `deduplicate.store`, to release a `webhook_id` whose handler failed. */
  forget?(key: string): void | Promise<void>
  close?(): Promise<void>
}

/** Options of `memoryReplayStore`. */
export interface MemoryReplayStoreOptions {
  /** Most ids remembered at once. When full, new tokens get 503 until older ids expire. Default 1,000,000. */
  maxEntries?: number
}

/** Thrown by a full memory replay store: the consumer answers 503, and never forgets an id early. */
export class ReplayStoreFullError extends Error {
  constructor () {
    super('the replay store is full')
    this.name = 'ReplayStoreFullError'
  }
}

/**
 * What the memory store keeps of a key: 128 bits of SHAKE128, as a 16-character string. A million ids then
 * take about 50 MiB instead of 130 (the keys are issuer and jti as JSON); two distinct keys share a
 * fingerprint with a probability of about 2^-88 among a million, far below any other failure.
 */
function fingerprint (key: string): string {
  return createHash('shake128', { outputLength: 16 }).update(key).digest().toString('latin1')
}

/**
 * An in-process replay store with bounded memory, in two generations: ids go into the current one; once
 * every id of the previous generation has expired, it is dropped whole and the current one takes its
 * place. No id is forgotten before its token expires, and no per-entry eviction walks a collection. Each
 * id is kept as a 128-bit fingerprint.
 *
 * @example
 * app.register(webhookConsumer, { issuer, jwksUrl, audience, replayStore: memoryReplayStore({ maxEntries: 100_000 }) })
 */
export function memoryReplayStore (options: MemoryReplayStoreOptions = {}): ReplayStore {
  const maxEntries = options.maxEntries ?? 1_000_000
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new TypeError('"memoryReplayStore.maxEntries" must be a whole number of at least 1')
  let current = new Set<string>()
  let currentExpiresAt = -Infinity
  let previous = new Set<string>()
  let previousExpiresAt = -Infinity
  return {
    remember (id, expiresAtMs, nowMs) {
      const key = fingerprint(id)
      if (nowMs >= previousExpiresAt) {
        previous = current
        previousExpiresAt = currentExpiresAt
        current = new Set()
        currentExpiresAt = -Infinity
      }
      if (current.has(key) || previous.has(key)) return false
      if (current.size + previous.size >= maxEntries) throw new ReplayStoreFullError()
      current.add(key)
      currentExpiresAt = Math.max(currentExpiresAt, expiresAtMs)
      return true
    },
    forget (id) {
      const key = fingerprint(id)
      current.delete(key)
      previous.delete(key)
    }
  }
}
