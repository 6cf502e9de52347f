import { KeyStoreConflictError, KeyStoreFencedError, type KeyStore, type StoredKeySet } from '@webhook-jwt/producer'
import type { Clock } from '@webhook-jwt/protocol'

/**
 * What several replicas share in these tests: the key set, the lease and the listeners, kept in memory and
 * timed by the test's clock. It follows the shared-store contract `redisKeyStore` implements on Redis (whose
 * own tests run against a real server), so that the producer's side of it is tested without one.
 */
export class SharedBacking {
  stored: StoredKeySet | null = null
  writes: StoredKeySet[] = []
  lease: { fence: number, expiresAt: number } | null = null
  fence = 0
  readonly listeners = new Set<() => void>()
  /** While set, reads and lease calls fail as an unreachable server would. */
  down = false
  /** While false, writes do not notify: a lost notification. */
  notify = true
  readonly clock: Clock

  constructor (clock: Clock) {
    this.clock = clock
  }

  /** Takes the lease as another replica would, for `ms`. */
  holdLease (ms: number): number {
    this.fence += 1
    this.lease = { fence: this.fence, expiresAt: this.clock.now() + ms }
    return this.fence
  }

  leaseHeld (): boolean {
    return this.lease !== null && this.lease.expiresAt > this.clock.now()
  }
}

/** One replica's connection to `backing`. */
export function sharedKeyStore (backing: SharedBacking, extra: Partial<KeyStore> = {}): KeyStore {
  const unreachable = (): Error => new Error('connect ECONNREFUSED 127.0.0.1:6379')
  return {
    description: 'shared test store',
    maxStaleness: 30,
    requiresEncryption: true,
    async read () {
      if (backing.down) throw unreachable()
      return backing.stored === null ? null : structuredClone(backing.stored)
    },
    async write (keySet, expectedRevision, lease) {
      if (backing.down) throw unreachable()
      if (lease === undefined || !backing.leaseHeld() || backing.lease?.fence !== lease.fence) throw new KeyStoreFencedError('shared test store')
      if ((backing.stored?.revision ?? null) !== expectedRevision) throw new KeyStoreConflictError('shared test store')
      backing.stored = structuredClone(keySet)
      backing.writes.push(structuredClone(keySet))
      if (backing.notify) for (const listener of backing.listeners) listener()
    },
    async lease () {
      if (backing.down) throw unreachable()
      if (backing.leaseHeld()) return null
      const fence = backing.holdLease(15_000)
      return {
        fence,
        async release () {
          if (backing.lease?.fence === fence) backing.lease = null
        }
      }
    },
    watch (onChange) {
      backing.listeners.add(onChange)
      return () => backing.listeners.delete(onChange)
    },
    ...extra
  }
}
