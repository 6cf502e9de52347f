import { createHash } from 'node:crypto'

/**
 * Remembers accepted token ids until their tokens expire. Implement it to share the memory between
 * replicas (on Redis, for instance).
 *
 * The rule a store must keep, so that a token is accepted once however late its body comes: a key is kept
 * for at least `expiresAtMs - nowMs` **from the moment the store records it**, counted on the store's own
 * clock (a relative expiry, such as Redis' `PX`, not an absolute one such as `PXAT`, which a slow call or a
 * clock ahead of the caller's would shorten, down to nothing). A store reached over a network adds the
 * longest a call may take (its timeout): a concurrent call for the same token, checked an instant before
 * `expiresAtMs` and slow to arrive, must still find the key. A key whose `expiresAtMs` is not after
 * `nowMs` is already expired: it is refused (false) and not recorded, as it would be kept for no time and
 * the same token let in again an instant later. The consumer never makes such a call: it checks the
 * token's times again once the body has arrived, at the `nowMs` it passes.
 *
 * @example
 * // 1000: the longest a call may take, the client's command timeout.
 * const store: ReplayStore = {
 *   remember: async (key, expiresAtMs, nowMs) => expiresAtMs > nowMs &&
 *     (await redis.set(key, '1', 'PX', Math.ceil(expiresAtMs - nowMs) + 1000, 'NX')) === 'OK'
 * }
 */
export interface ReplayStore {
  /**
   * Records `key` for `expiresAtMs - nowMs` milliseconds from now (the token's `exp` plus the clock
   * tolerance, milliseconds since the epoch, on the caller's clock, and that clock's present reading).
   * Resolves true the first time a key is seen, false for every later time while it is remembered, and
   * false for a key already expired (`expiresAtMs <= nowMs`), which it does not record. Throws (or rejects)
   * when it cannot tell: the consumer then answers 503, never accepts (unless it is set to fail open,
   * `replayStoreFailure: 'accept'`).
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
 * id is kept as a 128-bit fingerprint. It runs in the caller's process on the caller's clock (`nowMs`),
 * so an id is kept exactly until `expiresAtMs`; an id already expired when it comes is refused.
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
      // Kept until expiresAtMs would be no time at all: the next call could already drop it (see ReplayStore).
      if (!(expiresAtMs > nowMs)) return false
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
