import type { ReplayStore } from './replay-store.ts'

/** What a verified delivery is, with respect to earlier ones of the same `webhook_id`. */
export type DuplicateStatus = 'first' | 'duplicate' | 'in-progress'

/** By default a delivered `webhook_id` is remembered 4 days: longer than senders' retry horizon (about 3 days). */
export const DEFAULT_DEDUPLICATE_WINDOW = 4 * 86400
/** By default a delivery being handled holds its `webhook_id` for at most a minute (a crashed handler's claim then lapses). */
export const DEFAULT_PROCESSING_TIMEOUT = 60

/** A replay store that can also drop a key: what the duplicate check needs. */
export type ForgettingStore = ReplayStore & { forget(key: string): void | Promise<void> }

/** The two keys of one `webhook_id`: held while it is handled, and kept once it was handled. */
export interface DuplicateKeys {
  processing: string
  done: string
}

/**
 * The optional duplicate check on `webhook_id`, on a store with `remember` (set if absent) and `forget`.
 * A delivery first takes the `processing` key: if another holds it, the answer is "in progress" (503, try
 * again), never an early 200. Holding it, the delivery takes the `done` key: if that exists, the id was
 * handled before ("duplicate"). Nobody reads `done` without holding `processing`, so taking it early is
 * safe, and it is taken short-lived, so a crash leaves nothing for long. When the handler has answered, a
 * 2xx keeps `done` for the window; anything else drops it, so the sender's retry is handled.
 */
export class DuplicateCheck {
  readonly #store: ForgettingStore
  readonly #windowMs: number
  readonly #processingMs: number

  constructor (store: ForgettingStore, windowSec: number, processingSec: number) {
    this.#store = store
    this.#windowMs = windowSec * 1000
    this.#processingMs = processingSec * 1000
  }

  static keys (issuer: string, webhookId: string): DuplicateKeys {
    // JSON keeps the parts apart whatever they hold.
    return { processing: JSON.stringify(['webhook_id:processing', issuer, webhookId]), done: JSON.stringify(['webhook_id:done', issuer, webhookId]) }
  }

  async claim (keys: DuplicateKeys, nowMs: number): Promise<DuplicateStatus> {
    if (!await this.#store.remember(keys.processing, nowMs + this.#processingMs, nowMs)) return 'in-progress'
    let first: boolean
    try {
      first = await this.#store.remember(keys.done, nowMs + this.#processingMs, nowMs)
    } catch (error) {
      // Not left holding the id: the sender's retry must find it free.
      await this.#store.forget(keys.processing)
      throw error
    }
    if (!first) await this.#store.forget(keys.processing)
    return first ? 'first' : 'duplicate'
  }

  /** The handler has answered: `delivered` (2xx) keeps the id for the window, anything else releases it. */
  async release (keys: DuplicateKeys, delivered: boolean, nowMs: number): Promise<void> {
    try {
      await this.#store.forget(keys.done)
      if (delivered) await this.#store.remember(keys.done, nowMs + this.#windowMs, nowMs)
    } finally {
      // Whatever happened to `done`, the id must not stay "in progress".
      await this.#store.forget(keys.processing)
    }
  }
}
