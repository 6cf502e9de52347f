import type { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import { callAt, emitSafely } from '@webhook-jwt/protocol'
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
  /** Set once the rotation this waiter asked for has begun or been joined: only then can it settle. */
  started: boolean
  promise: Promise<RotationResult>
  resolve: (result: RotationResult) => void
  reject: (error: unknown) => void
}

/** A step in two parts: `prepare` does the slow work (key generation) before the clock is read; `plan` is instant. */
interface StepPlan<T> {
  prepare: (keys: readonly KeyEntry[]) => Promise<T>
  plan: (keys: readonly KeyEntry[], prepared: T, nowMs: number) => LifecycleStep | null
}

function dateOf (scheduled: { state: KeyState, atMs: number } | null): { state: KeyState, at: Date } | null {
  return scheduled === null ? null : { state: scheduled.state, at: new Date(scheduled.atMs) }
}

const nothingToPrepare = async (): Promise<undefined> => undefined

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
  // While a step that hands signing to an already-published key is being stored, that key signs: the
  // handover time is the planned one, so the waits counted from it hold however slow the store is.
  #handover: KeyEntry | null = null
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
    return this.#handover ?? this.#activeKey
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
    await this.#commit({
      prepare: async (keys) => activeKey(keys) === undefined ? await this.#generate() : undefined,
      plan: (keys, fresh, nowMs) => {
        const sealed = sealPlainKeys(keys, keyEncryptionKey)
        const start = fresh === undefined ? { keys: sealed.keys, changes: [] } : bootstrap(sealed.keys, fresh, nowMs)
        const due = applyDue(start.keys, nowMs, this.#settings.retireAfter * 1000)
        if (sealed.sealedCount > 0) this.#log.info({ keys: sealed.sealedCount }, 'webhook signing keys encrypted at rest with the configured keyEncryptionKey')
        const changes = [...start.changes, ...due.changes]
        return sealed.sealedCount === 0 && changes.length === 0 ? null : { keys: due.keys, changes }
      }
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
      waiter.previousKid = (this.#keys.find((key) => key.state === 'retiring') ?? this.#activeKey).kid
      await this.#commit({
        prepare: async (keys) => rotationInProgress(keys) ? undefined : await this.#generate(),
        plan: (keys, fresh, nowMs) => rotationInProgress(keys) ? null : beginRotation(keys, fresh as KeyEntry, nowMs, this.#settings.publishLead * 1000)
      })
      waiter.started = true
      this.#settleRotation()
    }).catch((error: unknown) => this.#failRotation(waiter, error))
    return waiter.promise
  }

  /** Re-activates the previous key while it is still published (see `rollback` in the lifecycle). */
  async rollback (): Promise<void> {
    await this.#enqueue(async () => {
      await this.#commit({ prepare: nothingToPrepare, plan: (keys, _none, nowMs) => rollback(keys, nowMs, this.#settings.retireAfter * 1000) })
    })
  }

  /** Unpublishes `kid` at once; tokens it signed stop verifying as soon as receivers refresh. */
  async revoke (kid: string): Promise<void> {
    await this.#enqueue(async () => {
      await this.#commit({
        prepare: async (keys) => {
          const target = keys.find((key) => key.kid === kid)
          return target?.state === 'active' && revokeReplacement(keys) === undefined ? await this.#generate() : undefined
        },
        plan: (keys, fresh, nowMs) => revoke(keys, kid, nowMs, fresh)
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
    if (this.#rotation !== null) this.#failRotation(this.#rotation, new ProducerClosedError())
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
   * Prepares and plans a step on the current keys, stores it, and only then serves it. A conflicting writer
   * makes it re-read the store and plan again on what is there now.
   */
  async #commit<T> (step: StepPlan<T>, attempt = 1): Promise<void> {
    const prepared = await step.prepare(this.#keys)
    const planned = step.plan(this.#keys, prepared, this.#settings.clock.now())
    if (planned === null) return
    const revision = (this.#revision ?? 0) + 1
    const successor = activeKey(planned.keys) as KeyEntry
    if (successor.kid !== activeKey(this.#keys)?.kid && this.isPublished(successor.kid)) this.#handover = successor
    try {
      await this.#settings.keyStore.write(writeKeySet(planned.keys, revision), this.#revision)
    } catch (error) {
      this.#handover = null
      if ((error as { code?: string }).code !== 'WEBHOOK_KEY_STORE_CONFLICT' || attempt === CONFLICT_ATTEMPTS) throw error
      this.#log.warn({ keyStore: this.#settings.keyStore.description }, 'webhook key store changed underneath; reloading it')
      await this.#reload()
      // What the other writer stored may have finished a rotation or scheduled a step for this process too.
      this.#settleRotation()
      this.#schedule()
      return await this.#commit(step, attempt + 1)
    }
    this.#handover = null
    this.#revision = revision
    this.#keys = planned.keys
    this.#jwks = buildJwksDocument(planned.keys)
    this.#stepError = null
    for (const change of planned.changes) this.#report(change)
    this.#settleRotation()
    this.#schedule()
  }

  #notify (event: string, payload: unknown): void {
    // A listener's bug must not undo or hide a transition that is already stored and served.
    emitSafely(this.#events, event, payload, (error) => this.#log.error({ err: error, event }, 'a webhook producer event listener failed'))
  }

  #report (change: KeyChange): void {
    const event: KeyTransitionEvent = { kid: change.kid, from: change.from, to: change.to, at: new Date(change.atMs), reason: change.reason, next: dateOf(change.scheduled) }
    this.#log.info({ kid: event.kid, from: event.from, to: event.to, reason: event.reason, next: event.next }, `webhook signing key ${event.kid} is now ${event.to}`)
    this.#notify('transition', event)
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
      this.#cancelTimer?.()
      this.#cancelTimer = callAt(this.#settings.clock, this.#settings.clock.now() + STEP_RETRY_MS, () => this.#advanceSoon())
      this.#notify('stepFailed', error)
    })
  }

  /** Applies what is due: a switch, a retirement, or the start of a scheduled rotation. */
  async #advance (): Promise<void> {
    const retireAfterMs = this.#settings.retireAfter * 1000
    const publishLeadMs = this.#settings.publishLead * 1000
    // Whether a scheduled rotation should start, on the keys as they are once the due steps are applied.
    const rotationDue = (dueKeys: readonly KeyEntry[], nowMs: number): boolean => {
      const start = nextRotationStart(dueKeys, this.#everyMs(), publishLeadMs)
      return start !== null && start <= nowMs
    }
    await this.#commit({
      prepare: async (keys) => {
        const nowMs = this.#settings.clock.now()
        return rotationDue(applyDue(keys, nowMs, retireAfterMs).keys, nowMs) ? await this.#generate() : undefined
      },
      plan: (keys, fresh, nowMs) => {
        const due = applyDue(keys, nowMs, retireAfterMs)
        if (fresh === undefined || !rotationDue(due.keys, nowMs)) return due.changes.length === 0 ? null : due
        const begun = beginRotation(due.keys, fresh, nowMs, publishLeadMs)
        return { keys: begun.keys, changes: [...due.changes, ...begun.changes] }
      }
    })
    this.#schedule()
  }

  #waiter (): RotationWaiter {
    let settle!: Pick<RotationWaiter, 'resolve' | 'reject'>
    const promise = new Promise<RotationResult>((resolve, reject) => {
      settle = { resolve, reject }
    })
    // Callers may fire and forget; a rotation cut short by close() must not crash the process.
    promise.catch(() => {})
    this.#rotation = { previousKid: this.#activeKey.kid, started: false, promise, ...settle }
    return this.#rotation
  }

  #settleRotation (): void {
    const waiter = this.#rotation
    if (waiter === null || !waiter.started || rotationInProgress(this.#keys)) return
    this.#rotation = null
    waiter.resolve({ previousKid: waiter.previousKid, activeKid: this.#activeKey.kid })
  }

  #failRotation (waiter: RotationWaiter, error: unknown): void {
    if (this.#rotation === waiter) this.#rotation = null
    waiter.reject(error)
  }
}
