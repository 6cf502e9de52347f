import type { ReplayStore } from './replay-store.ts'

/** What a verified delivery is, with respect to earlier ones of the same `webhook_id`. */
export type DuplicateStatus = 'first' | 'duplicate' | 'in-progress'

/** By default a delivered `webhook_id` is remembered 4 days: longer than senders' retry horizon (about 3 days). */
export const DEFAULT_DEDUPLICATE_WINDOW = 4 * 86400

/**
 * The optional duplicate check on `webhook_id`, on the replay store. A delivery claims its id before the
 * handler runs; if the handler does not answer 2xx, the claim is released so the sender's retry is handled.
 * A retry that arrives while this process still handles the first gets `in-progress` (503, try again), so
 * it cannot be acknowledged before the first has succeeded. On another replica, the same race is answered
 * `duplicate`: handlers must still tolerate a rare concurrent repeat.
 */
export class DuplicateCheck {
  readonly #store: ReplayStore & { forget(key: string): void | Promise<void> }
  readonly #windowMs: number
  readonly #handling = new Set<string>()

  constructor (store: ReplayStore & { forget(key: string): void | Promise<void> }, windowSec: number) {
    this.#store = store
    this.#windowMs = windowSec * 1000
  }

  static key (issuer: string, webhookId: string): string {
    // JSON keeps the parts apart whatever they hold, and apart from the replay check's [issuer, jti] keys.
    return JSON.stringify(['webhook_id', issuer, webhookId])
  }

  async claim (key: string, nowMs: number): Promise<DuplicateStatus> {
    if (this.#handling.has(key)) return 'in-progress'
    if (!await this.#store.remember(key, nowMs + this.#windowMs, nowMs)) return 'duplicate'
    this.#handling.add(key)
    return 'first'
  }

  /** The handler answered: a 2xx keeps the claim, anything else releases it for the retry. */
  async release (key: string, delivered: boolean): Promise<void> {
    this.#handling.delete(key)
    if (!delivered) await this.#store.forget(key)
  }
}
