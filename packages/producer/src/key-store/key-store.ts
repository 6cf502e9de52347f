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

/**
 * Where a producer keeps its keys. Implement it to keep keys elsewhere.
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
   */
  write(keySet: StoredKeySet, expectedRevision: number | null): Promise<void>
  /** Releases connections or handles; called when the app closes. */
  close?(): Promise<void>
}
