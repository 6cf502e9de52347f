import type { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import { callAt } from '@webhook-jwt/protocol'
import { NoActiveKeyError, ProducerClosedError } from './errors.ts'
import { buildJwksDocument, type JwksDocument } from './jwks/jwks-document.ts'
import type { KeyState, TransitionReason } from './key-store/key-store.ts'
import { generateSigningKey } from './keys/generate-key.ts'
import { newKeyEntry, readKeySet, sealPlainKeys, writeKeySet, type KeyEntry } from './keys/key-entry.ts'
import {
  activeKey, applyDue, beginRotation, bootstrap, nextRotationStart, revoke, revokeReplacement, rollback, rotationInProgress,
  type KeyChange, type LifecycleStep
} from './rotation/lifecycle.ts'
import type { ProducerSettings } from './options.ts'

/** Reported on the `transition` event, and logged, every time a key changes state. */
export interface KeyTransitionEvent {
  kid: string
  /** `null` for a key that has just been created. */
  from: KeyState | null
  to: KeyState
  at: Date
  reason: TransitionReason
  /** The key's next scheduled transition, if any. */
  next: { state: KeyState, at: Date } | null
}

/** What `rotate()` resolves to once the old key is retired (or the rotation was rolled back). */
export interface RotationResult {
  /** The key that signed when the rotation started. */
  previousKid: string
  /** The key that signs now: the new one, or the previous one after a rollback. */
  activeKid: string
}

/** One key in `status()`. */
export interface KeyStatus {
  kid: string
  alg: string
  state: KeyState
  transitions: Array<{ state: KeyState, at: Date, reason: TransitionReason }>
  next: { state: KeyState, at: Date } | null
}

/** What `status()` returns. */
export interface ProducerStatus {
  activeKid: string
  rotationInProgress: boolean
  /** When the scheduled rotation will publish the next key; `null` while one runs or when none is scheduled. */
  nextRotationAt: Date | null
  keys: KeyStatus[]
}

/** What `health()` returns; under-pressure's health check fails when `healthy` is false. */
export interface ProducerHealth {
  healthy: boolean
  activeKid: string
  /** Why it is unhealthy. */
  reason?: string
}

/** A failed scheduled step is tried again after this long; it is never skipped. */
export const STEP_RETRY_MS = 5000
const CONFLICT_ATTEMPTS = 3

interface RotationWaiter {
  previousKid: string
  promise: Promise<RotationResult>
  resolve: (result: RotationResult) => void
  reject: (error: unknown) => void
}

function dateOf (scheduled: { state: KeyState, atMs: number } | null): { state: KeyState, at: Date } | null {
  return scheduled === null ? null : { state: scheduled.state, at: new Date(scheduled.atMs) }
}

/**
 * The producer's keys: loaded and checked at registration, changed only through the lifecycle functions,
 * one change at a time, each persisted to the key store before it is served, logged or reported.
 */
export class SigningKeys {
  readonly #settings: ProducerSettings
  readonly #log: FastifyBaseLogger
  readonly #events: EventEmitter
  #keys: KeyEntry[] = []
  #revision: number | null = null
  #jwks: JwksDocument = buildJwksDocument([])
  #queue: Promise<unknown> = Promise.resolve()
  #cancelTimer: (() => void) | null = null
  #rotation: RotationWaiter | null = null
  #stepError: Error | null = null
  #started = false
  #closed = false

  constructor (settings: ProducerSettings, log: FastifyBaseLogger, events: EventEmitter) {
    this.#settings = settings
    this.#log = log
    this.#events = events
  }

  /** The published key set, as served. */
  get jwks (): JwksDocument {
    return this.#jwks
  }

  /** The key that signs now. */
  get active (): KeyEntry {
    if (this.#closed) throw new NoActiveKeyError()
    return this.#activeKey
  }

  // Once open() has run there is always exactly one active key: the store is bootstrapped when it has none,
  // and every lifecycle step that takes the role from a key hands it to another in the same write.
  get #activeKey (): KeyEntry {
    return activeKey(this.#keys) as KeyEntry
  }

  isPublished (kid: string): boolean {
    return this.#jwks.kids.has(kid)
  }

  /** Loads the store and catches up with every step that fell due while no process ran. */
  async open (): Promise<void> {
    await this.#reload()
    const { keyEncryptionKey } = this.#settings
    await this.#commit(async (keys, nowMs) => {
      const sealed = sealPlainKeys(keys, keyEncryptionKey)
      let step: LifecycleStep = { keys: sealed.keys, changes: [] }
      if (activeKey(step.keys) === undefined) step = bootstrap(step.keys, await this.#generate(), nowMs)
      const due = applyDue(step.keys, nowMs, this.#settings.retireAfter * 1000)
      if (sealed.sealedCount > 0) this.#log.info({ keys: sealed.sealedCount }, 'webhook signing keys encrypted at rest with the configured keyEncryptionKey')
      return sealed.sealedCount === 0 && step.changes.length === 0 && due.changes.length === 0 ? null : { keys: due.keys, changes: [...step.changes, ...due.changes] }
    })
  }

  /** Arms the scheduler; called once the app is ready. */
  start (): void {
    this.#started = true
    this.#schedule()
  }

  /**
   * Starts a rotation, or returns the running one's promise. Settles when the old key is retired.
   */
  rotate (): Promise<RotationResult> {
    if (this.#rotation !== null) return this.#rotation.promise
    if (this.#closed) return Promise.reject(new ProducerClosedError())
    const waiter = this.#waiter()
    this.#enqueue(async () => {
      await this.#commit(async (keys, nowMs) => rotationInProgress(keys)
        ? null
        : beginRotation(keys, await this.#generate(), nowMs, this.#settings.publishLead * 1000))
    }).catch((error: unknown) => this.#failRotation(error))
    return waiter.promise
  }

  /** Re-activates the previous key while it is still published (see `rollback` in the lifecycle). */
  async rollback (): Promise<void> {
    await this.#enqueue(async () => {
      await this.#commit(async (keys, nowMs) => rollback(keys, nowMs, this.#settings.retireAfter * 1000))
    })
  }

  /** Unpublishes `kid` at once; tokens it signed stop verifying as soon as receivers refresh. */
  async revoke (kid: string): Promise<void> {
    await this.#enqueue(async () => {
      await this.#commit(async (keys, nowMs) => {
        const target = keys.find((key) => key.kid === kid)
        const fresh = target?.state === 'active' && revokeReplacement(keys) === undefined ? await this.#generate() : undefined
        return revoke(keys, kid, nowMs, fresh)
      })
    })
  }

  status (): ProducerStatus {
    const start = nextRotationStart(this.#keys, this.#everyMs(), this.#settings.publishLead * 1000)
    return {
      activeKid: this.#activeKey.kid,
      rotationInProgress: rotationInProgress(this.#keys),
      nextRotationAt: start === null ? null : new Date(start),
      keys: this.#keys.map((key) => ({
        kid: key.kid,
        alg: key.alg,
        state: key.state,
        transitions: key.transitions.map((step) => ({ state: step.state, at: new Date(step.atMs), reason: step.reason })),
        next: dateOf(key.scheduled)
      }))
    }
  }

  /** Reads the store to prove it is still readable, and checks that a key signs and no step is failing. */
  async health (): Promise<ProducerHealth> {
    const activeKid = this.#activeKey.kid
    try {
      await this.#settings.keyStore.read()
    } catch (error) {
      return { healthy: false, activeKid, reason: `key store unreadable: ${(error as Error).message}` }
    }
    if (this.#closed) return { healthy: false, activeKid, reason: 'no active signing key' }
    if (this.#stepError !== null) return { healthy: false, activeKid, reason: `key rotation step failing: ${this.#stepError.message}` }
    return { healthy: true, activeKid }
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#cancelTimer?.()
    await this.#queue
    this.#failRotation(new ProducerClosedError())
    await this.#settings.keyStore.close?.()
  }

  #everyMs (): number | null {
    return this.#settings.rotationEvery === null ? null : this.#settings.rotationEvery * 1000
  }

  async #generate (): Promise<KeyEntry> {
    return newKeyEntry(await generateSigningKey(this.#settings.algorithm, this.#settings.rsaModulusLength), this.#settings.keyEncryptionKey)
  }

  async #reload (): Promise<void> {
    const { keyStore, keyEncryptionKey } = this.#settings
    const stored = await keyStore.read()
    const loaded = stored === null ? { revision: null, keys: [] } : await readKeySet(stored, keyEncryptionKey, keyStore.description)
    this.#revision = loaded.revision
    this.#keys = loaded.keys
    this.#jwks = buildJwksDocument(loaded.keys)
  }

  #enqueue (task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#closed) throw new ProducerClosedError()
      await task()
    })
    this.#queue = run.catch(() => {})
    return run
  }

  /**
   * Plans a step on the current keys, stores it, and only then serves it. A conflicting writer makes it
   * re-read the store and plan again on what is there now.
   */
  async #commit (plan: (keys: readonly KeyEntry[], nowMs: number) => Promise<LifecycleStep | null>, attempt = 1): Promise<void> {
    const step = await plan(this.#keys, this.#settings.clock.now())
    if (step === null) return
    const revision = (this.#revision ?? 0) + 1
    try {
      await this.#settings.keyStore.write(writeKeySet(step.keys, revision), this.#revision)
    } catch (error) {
      if ((error as { code?: string }).code !== 'WEBHOOK_KEY_STORE_CONFLICT' || attempt === CONFLICT_ATTEMPTS) throw error
      this.#log.warn({ keyStore: this.#settings.keyStore.description }, 'webhook key store changed underneath; reloading it')
      await this.#reload()
      // What the other writer stored may have finished a rotation or scheduled a step for this process too.
      this.#settleRotation()
      this.#schedule()
      return await this.#commit(plan, attempt + 1)
    }
    this.#revision = revision
    this.#keys = step.keys
    this.#jwks = buildJwksDocument(step.keys)
    this.#stepError = null
    for (const change of step.changes) this.#report(change)
    this.#settleRotation()
    this.#schedule()
  }

  #report (change: KeyChange): void {
    const event: KeyTransitionEvent = { kid: change.kid, from: change.from, to: change.to, at: new Date(change.atMs), reason: change.reason, next: dateOf(change.scheduled) }
    this.#log.info({ kid: event.kid, from: event.from, to: event.to, reason: event.reason, next: event.next }, `webhook signing key ${event.kid} is now ${event.to}`)
    try {
      this.#events.emit('transition', event)
    } catch (error) {
      // A listener's bug must not undo or hide a transition that is already stored and served.
      this.#log.error({ err: error }, 'a webhook key transition listener threw')
    }
  }

  #schedule (): void {
    this.#cancelTimer?.()
    this.#cancelTimer = null
    if (!this.#started || this.#closed) return
    const wakeAt = [
      ...this.#keys.flatMap((key) => key.scheduled === null ? [] : [key.scheduled.atMs]),
      nextRotationStart(this.#keys, this.#everyMs(), this.#settings.publishLead * 1000) ?? Infinity
    ].reduce((a, b) => Math.min(a, b), Infinity)
    if (wakeAt === Infinity) return
    this.#cancelTimer = callAt(this.#settings.clock, wakeAt, () => this.#advanceSoon())
  }

  #advanceSoon (): void {
    this.#enqueue(() => this.#advance()).catch((error: unknown) => {
      if (this.#closed) return
      this.#stepError = error as Error
      this.#log.error({ err: error, retryInMs: STEP_RETRY_MS }, 'webhook key rotation step failed; it will be tried again')
      this.#events.emit('stepFailed', error)
      this.#cancelTimer = callAt(this.#settings.clock, this.#settings.clock.now() + STEP_RETRY_MS, () => this.#advanceSoon())
    })
  }

  /** Applies what is due: a switch, a retirement, or the start of a scheduled rotation. */
  async #advance (): Promise<void> {
    await this.#commit(async (keys, nowMs) => {
      const due = applyDue(keys, nowMs, this.#settings.retireAfter * 1000)
      const start = nextRotationStart(due.keys, this.#everyMs(), this.#settings.publishLead * 1000)
      if (start === null || start > nowMs) return due.changes.length === 0 ? null : due
      const begun = beginRotation(due.keys, await this.#generate(), nowMs, this.#settings.publishLead * 1000)
      return { keys: begun.keys, changes: [...due.changes, ...begun.changes] }
    })
    this.#schedule()
  }

  #waiter (): RotationWaiter {
    const keys = this.#keys
    const previousKid = (keys.find((key) => key.state === 'retiring') ?? this.#activeKey).kid
    let settle!: Pick<RotationWaiter, 'resolve' | 'reject'>
    const promise = new Promise<RotationResult>((resolve, reject) => {
      settle = { resolve, reject }
    })
    // Callers may fire and forget; a rotation cut short by close() must not crash the process.
    promise.catch(() => {})
    this.#rotation = { previousKid, promise, ...settle }
    return this.#rotation
  }

  #settleRotation (): void {
    const waiter = this.#rotation
    if (waiter === null || rotationInProgress(this.#keys)) return
    this.#rotation = null
    waiter.resolve({ previousKid: waiter.previousKid, activeKid: this.#activeKey.kid })
  }

  #failRotation (error: unknown): void {
    const waiter = this.#rotation
    this.#rotation = null
    waiter?.reject(error)
  }
}
