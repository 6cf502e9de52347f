import type { EventEmitter } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { callAt, emitSafely, formatDuration } from '@webhook-jwt/protocol'
import { KeySetStaleError, KeyStoreBusyError, NoActiveKeyError, ProducerClosedError } from './errors.ts'
import { buildJwksDocument, type JwksDocument } from './jwks/jwks-document.ts'
import type { KeyState, KeyStore, KeyStoreLease, StoredKeySet, TransitionReason } from './key-store/key-store.ts'
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
/** While another replica holds a shared store's step lease, it is asked for again after 50, 100, … 1600 ms. */
const LEASE_BACKOFF_MS = [50, 100, 200, 400, 800, 1600]

function isConflict (error: unknown): boolean {
  const code = (error as { code?: string }).code
  return code === 'WEBHOOK_KEY_STORE_CONFLICT' || code === 'WEBHOOK_KEY_STORE_FENCED'
}

/** Waits `ms`, or less once `signal` aborts. The timer is awaited by a step in progress, so it is not unref()ed. */
async function pause (ms: number, signal: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch(() => {})
}

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

function keyStatusOf (key: KeyEntry): KeyStatus {
  return {
    kid: key.kid,
    alg: key.alg,
    state: key.state,
    transitions: key.transitions.map((step) => ({ state: step.state, at: new Date(step.atMs), reason: step.reason })),
    next: dateOf(key.scheduled)
  }
}

/**
 * The keys a key store holds, as `status()` lists them, read without the key-encryption key: the set is
 * validated as a producer validates it (`WEBHOOK_KEY_STORE_CORRUPT` otherwise), but private keys are not
 * opened. `null` when the store holds nothing yet. For tools that watch a store no process of theirs writes.
 *
 * @example
 * const stored = await readStoredKeys(fileKeyStore({ path: '/var/lib/sender/webhook-keys.json' }))
 * console.log(stored?.keys.find((key) => key.state === 'active')?.kid)
 */
export async function readStoredKeys (keyStore: Pick<KeyStore, 'read' | 'description'>): Promise<{ revision: number, keys: KeyStatus[] } | null> {
  const stored = await keyStore.read()
  if (stored === null) return null
  const { revision, keys } = await readKeySet(stored, 'public-only', keyStore.description)
  return { revision, keys: keys.map(keyStatusOf) }
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
  // The revision the next write replaces: the one held, or null when the store was found emptied (a Redis
  // that lost its data), so that the next write puts the held keys back.
  #expectedRevision: number | null = null
  // When the last read of the store that succeeded began: a shared store's keys older than maxStaleness are
  // neither signed with nor served.
  #confirmedAt = -Infinity
  #refreshing = false
  #cancelRefresh: (() => void) | null = null
  #unwatch: (() => void) | null = null
  #readError: Error | null = null
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
  readonly #closing = new AbortController()

  constructor (settings: ProducerSettings, log: FastifyBaseLogger, events: EventEmitter) {
    this.#settings = settings
    this.#log = log
    this.#events = events
  }

  /** The published key set, as served; throws `WEBHOOK_KEY_SET_STALE` when it could not be confirmed for too long. */
  get jwks (): JwksDocument {
    this.#assertFresh()
    return this.#jwks
  }

  /** The key that signs now. */
  get active (): KeyEntry {
    if (this.#closed) throw new NoActiveKeyError()
    this.#assertFresh()
    return this.#handover ?? this.#activeKey
  }

  /** Seconds the served keys may go unconfirmed: a shared store's `maxStaleness`, or `null` for a store only this process writes. */
  get #maxStalenessMs (): number | null {
    const { maxStaleness } = this.#settings.keyStore
    return maxStaleness === undefined ? null : maxStaleness * 1000
  }

  #staleFor (): number | null {
    const limit = this.#maxStalenessMs
    if (limit === null) return null
    const age = this.#settings.clock.now() - this.#confirmedAt
    return age > limit ? age : null
  }

  // Another replica may have switched or retired keys since the last read this one could make: past
  // maxStaleness (which the rotation waits include), signing or serving what it holds could break the overlap.
  #assertFresh (): void {
    const staleFor = this.#staleFor()
    if (staleFor !== null) throw new KeySetStaleError(this.#settings.keyStore.description, formatDuration(Math.round(staleFor / 1000)))
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
    }).catch((error: unknown) => {
      // A replica that starts while another applies a step signs with what is stored; the refresh catches up.
      if ((error as { code?: string }).code !== 'WEBHOOK_KEY_STORE_BUSY' || activeKey(this.#keys) === undefined) throw error
      this.#log.info({ keyStore: this.#settings.keyStore.description }, 'another webhook producer replica is applying a key step; starting with the stored keys')
    })
  }

  /** Arms the scheduler, and for a shared store the change notifications and the periodic re-read; called once the app is ready. */
  start (): void {
    this.#started = true
    this.#schedule()
    const { keyStore } = this.#settings
    if (keyStore.watch !== undefined) this.#unwatch = keyStore.watch(() => this.#refreshSoon())
    this.#armRefresh()
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
      keys: this.#keys.map(keyStatusOf)
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
    const staleFor = this.#staleFor()
    if (staleFor !== null) return { healthy: false, activeKid, reason: `keys not confirmed against the key store for ${formatDuration(Math.round(staleFor / 1000))}` }
    if (this.#stepError !== null) return { healthy: false, activeKid, reason: `key rotation step failing: ${this.#stepError.message}` }
    return { healthy: true, activeKid }
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#closing.abort()
    this.#cancelTimer?.()
    this.#cancelRefresh?.()
    this.#unwatch?.()
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

  /**
   * Reads the store and holds what it has. An emptied store (a Redis that lost its data, say) leaves the held
   * keys in place and makes the next write put them back: regenerating would replace keys receivers trust.
   */
  async #reload (): Promise<void> {
    const { keyStore, keyEncryptionKey, clock } = this.#settings
    const readAt = clock.now()
    const stored: StoredKeySet | null = await keyStore.read()
    this.#confirmedAt = readAt
    this.#readError = null
    if (stored === null) {
      this.#expectedRevision = null
      if (this.#keys.length > 0) this.#log.error({ keyStore: keyStore.description, revision: this.#revision }, 'the webhook key store is empty although it held keys; writing back the keys this replica holds')
      return
    }
    const loaded = await readKeySet(stored, keyEncryptionKey, keyStore.description)
    const changed = loaded.revision !== this.#revision
    this.#revision = loaded.revision
    this.#expectedRevision = loaded.revision
    this.#keys = loaded.keys
    this.#jwks = buildJwksDocument(loaded.keys)
    if (changed && this.#started) {
      this.#log.info({ keyStore: keyStore.description, revision: loaded.revision, activeKid: this.#activeKey.kid }, `webhook key set revision ${loaded.revision} loaded from the key store`)
      // What another writer stored may have finished a rotation or scheduled a step for this process too.
      this.#settleRotation()
      this.#schedule()
    }
  }

  /** Re-reads a shared store soon: on a change notification, and every third of maxStaleness. */
  #refreshSoon (): void {
    if (this.#refreshing || this.#closed) return
    this.#refreshing = true
    this.#enqueue(async () => {
      this.#refreshing = false
      await this.#reload()
      // Found emptied: put the held keys back, unless another replica did so first (the plan runs on a re-read).
      if (this.#expectedRevision === null) await this.#commit({ prepare: nothingToPrepare, plan: (keys) => this.#expectedRevision === null ? { keys: [...keys], changes: [] } : null })
    }).catch((error: unknown) => {
      this.#refreshing = false
      if (this.#closed) return
      if (this.#readError === null) this.#log.warn({ err: error, keyStore: this.#settings.keyStore.description }, 'webhook key store cannot be read; signing with the keys held until it answers or maxStaleness passes')
      this.#readError = error as Error
    })
  }

  #armRefresh (): void {
    const limit = this.#maxStalenessMs
    if (limit === null || this.#closed) return
    this.#cancelRefresh = callAt(this.#settings.clock, this.#settings.clock.now() + limit / 3, () => {
      this.#refreshSoon()
      this.#armRefresh()
    })
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
   * makes it re-read the store and plan again on what is there now. With a shared store the step is planned
   * and stored under the store's lease, on the set as read under it, so exactly one replica applies it.
   */
  async #commit<T> (step: StepPlan<T>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const lease = await this.#takeLease()
      try {
        if (lease !== null) await this.#reload()
        await this.#store(step, lease)
        return
      } catch (error) {
        this.#handover = null
        if (!isConflict(error) || attempt === CONFLICT_ATTEMPTS) throw error
        this.#log.warn({ keyStore: this.#settings.keyStore.description, code: (error as { code: string }).code }, 'webhook key store changed underneath; reloading it')
      } finally {
        await lease?.release().catch((error: unknown) => this.#log.warn({ err: error }, 'webhook key store lease could not be released; it will lapse'))
      }
      await this.#reload()
    }
  }

  async #takeLease (): Promise<KeyStoreLease | null> {
    const { keyStore } = this.#settings
    if (keyStore.lease === undefined) return null
    for (const wait of [...LEASE_BACKOFF_MS, null]) {
      const lease = await keyStore.lease()
      if (lease !== null) return lease
      if (wait === null || this.#closed) break
      await pause(wait, this.#closing.signal)
    }
    throw new KeyStoreBusyError(keyStore.description)
  }

  async #store<T> (step: StepPlan<T>, lease: KeyStoreLease | null): Promise<void> {
    const prepared = await step.prepare(this.#keys)
    const planned = step.plan(this.#keys, prepared, this.#settings.clock.now())
    if (planned === null) return
    const revision = (this.#revision ?? 0) + 1
    const successor = activeKey(planned.keys) as KeyEntry
    if (successor.kid !== activeKey(this.#keys)?.kid && this.#jwks.kids.has(successor.kid)) this.#handover = successor
    await this.#settings.keyStore.write(writeKeySet(planned.keys, revision), this.#expectedRevision, lease ?? undefined)
    this.#handover = null
    this.#revision = revision
    this.#expectedRevision = revision
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
      this.#cancelTimer?.()
      this.#cancelTimer = callAt(this.#settings.clock, this.#settings.clock.now() + STEP_RETRY_MS, () => this.#advanceSoon())
      // A replica that holds the lease for longer than the backoff is applying the step, or died doing so: its
      // lease lapses, and the step is tried again here either way. That is not a failing step.
      if ((error as { code?: string }).code === 'WEBHOOK_KEY_STORE_BUSY') {
        this.#log.warn({ retryInMs: STEP_RETRY_MS }, 'another webhook producer replica holds the key step lease; trying the step again')
        return
      }
      this.#stepError = error as Error
      this.#log.error({ err: error, retryInMs: STEP_RETRY_MS }, 'webhook key rotation step failed; it will be tried again')
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
