import type { JWK } from 'jose'
import type { PublishedJwk, SigningAlgorithm } from '@webhook-jwt/protocol'

/**
 * The lifecycle of a signing key: `next` (published, not signing) → `active` (published, signing) →
 * `retiring` (published, not signing) → `retired` (unpublished, private key destroyed).
 */
export type KeyState = 'next' | 'active' | 'retiring' | 'retired'

/** Why a key changed state. */
export type TransitionReason = 'bootstrap' | 'rotation' | 'rollback' | 'revoke'

/** A private key as stored: a plain JWK, or that JWK encrypted with AES-256-GCM under the key-encryption key. */
export type StoredPrivateKey =
  | { format: 'jwk', jwk: JWK }
  | { format: 'A256GCM', iv: string, tag: string, ciphertext: string }

/** One key and its history, as stored. Times are ISO 8601 strings. */
export interface StoredKey {
  kid: string
  alg: SigningAlgorithm
  state: KeyState
  publicJwk: PublishedJwk
  /** `null` once the key is retired: its private half is destroyed. */
  privateKey: StoredPrivateKey | null
  /** Every state the key entered, when and why. */
  transitions: Array<{ state: KeyState, at: string, reason: TransitionReason }>
  /** The key's next transition, if one is scheduled. */
  scheduled: { state: KeyState, at: string } | null
}

/** Everything a key store holds: a JSON document the producer writes and validates on every read. */
export interface StoredKeySet {
  format: 'webhook-jwt/key-set@1'
  /** Grows by one on every write; a write names the revision it replaces so concurrent writers cannot both win. */
  revision: number
  keys: StoredKey[]
}

/** The document version this package reads and writes. */
export const KEY_SET_FORMAT = 'webhook-jwt/key-set@1'

/** The right to apply one key step, held by one producer replica at a time (see `KeyStore.lease`). */
export interface KeyStoreLease {
  /** Grows with every lease granted: a write under an older lease is refused (`WEBHOOK_KEY_STORE_FENCED`). */
  readonly fence: number
  /** Gives the lease up; a lease that is never released lapses on its own. */
  release(): Promise<void>
}

/**
 * Where a producer keeps its keys. Implement it to keep keys elsewhere. A store shared by several producer
 * replicas also implements `lease`, `watch` and `maxStaleness` (as `redisKeyStore` from `@webhook-jwt/redis`
 * does): every step is then applied by one replica under a lease, and every replica re-reads the set when told
 * of a change, and at least every third of `maxStaleness` in any case.
 *
 * @example
 * const store: KeyStore = {
 *   description: 'vault:secret/webhooks',
 *   async read () { return await vault.get('webhooks') ?? null },
 *   async write (keySet, expectedRevision) { await vault.compareAndSet('webhooks', keySet, expectedRevision) }
 * }
 */
export interface KeyStore {
  /** Where the keys are, for logs and errors (never a secret). */
  readonly description: string
  /** The stored key set, or `null` when nothing has been stored yet. Throws when the store cannot be read. */
  read(): Promise<StoredKeySet | null>
  /**
   * Stores `keySet` if the stored revision is still `expectedRevision` (`null`: nothing stored yet), atomically:
   * a reader sees the old set or the new one, never a mix. Throws `WEBHOOK_KEY_STORE_CONFLICT` otherwise.
   * A store with `lease` is given the lease the write was planned under, and refuses the write with
   * `WEBHOOK_KEY_STORE_FENCED` when that lease is no longer the current one.
   */
  write(keySet: StoredKeySet, expectedRevision: number | null, lease?: KeyStoreLease): Promise<void>
  /**
   * Takes the step lease, or resolves `null` while another replica holds it. The producer takes it before it
   * plans a step, re-reads the set under it, and releases it once the step is stored.
   */
  lease?(): Promise<KeyStoreLease | null>
  /** Calls `onChange` whenever another writer may have changed the set; returns a function that stops it. */
  watch?(onChange: () => void): () => void
  /**
   * Seconds: the longest a replica may go on signing and serving its key set without confirming it against
   * the store. It bounds how late a replica learns of a step, so it is added to the rotation's safety waits.
   */
  readonly maxStaleness?: number
  /** `true` when private keys must be encrypted at rest: the producer then refuses to start without `keyEncryptionKey`. */
  readonly requiresEncryption?: boolean
  /** Releases connections or handles; called when the app closes. */
  close?(): Promise<void>
}
