import type { KeyState, TransitionReason } from '../key-store/key-store.ts'
import type { KeyEntry } from '../keys/key-entry.ts'
import { NothingToRollBackError, UnknownKeyError } from '../errors.ts'

// The lifecycle as pure functions over the key list: each returns the new list and the changes it made,
// so the caller can persist first and only then publish, log and report them.

/** One state change, as logged and reported. */
export interface KeyChange {
  kid: string
  from: KeyState | null
  to: KeyState
  atMs: number
  reason: TransitionReason
  scheduled: { state: KeyState, atMs: number } | null
}

export interface LifecycleStep {
  keys: KeyEntry[]
  changes: KeyChange[]
}

/** Retired keys kept in the store for status and audit; older ones are dropped. */
export const RETIRED_KEYS_KEPT = 10

/** The order of the JWKS: the signing key first, then the one that will sign, then the one that did. */
const PUBLISHED_ORDER: Record<KeyState, number> = { active: 0, next: 1, retiring: 2, retired: 3 }

export function activeKey (keys: readonly KeyEntry[]): KeyEntry | undefined {
  return keys.find((key) => key.state === 'active')
}

export function publishedKeys (keys: readonly KeyEntry[]): KeyEntry[] {
  return keys.filter((key) => key.state !== 'retired').sort((a, b) => PUBLISHED_ORDER[a.state] - PUBLISHED_ORDER[b.state])
}

/** A rotation is in progress while a key waits to sign or an old key waits to retire. */
export function rotationInProgress (keys: readonly KeyEntry[]): boolean {
  return keys.some((key) => key.state === 'next' || key.state === 'retiring')
}

/**
 * When the next scheduled rotation starts: `publishLead` before the active key has signed for `every`,
 * so each key signs for `every`. A rollback or a revoke restarts the period: an operator who has just undone
 * a rotation does not want the schedule to start another at once. `null` when rotation is not scheduled or
 * one is already running.
 */
export function nextRotationStart (keys: readonly KeyEntry[], everyMs: number | null, publishLeadMs: number): number | null {
  const active = activeKey(keys)
  if (everyMs === null || active === undefined || rotationInProgress(keys)) return null
  // An active key always has entered the active state (the store is validated for it).
  let since = (active.transitions.findLast((step) => step.state === 'active') as { atMs: number }).atMs
  for (const key of keys) {
    for (const step of key.transitions) if (step.reason === 'rollback' || step.reason === 'revoke') since = Math.max(since, step.atMs)
  }
  return since + everyMs - publishLeadMs
}

class Step {
  readonly keys: KeyEntry[]
  readonly changes: KeyChange[] = []
  constructor (keys: readonly KeyEntry[], readonly atMs: number) {
    this.keys = [...keys]
  }

  move (kid: string, to: KeyState, reason: TransitionReason, scheduled: KeyEntry['scheduled'] = null): void {
    const index = this.keys.findIndex((key) => key.kid === kid)
    const key = this.keys[index] as KeyEntry
    const retired = to === 'retired'
    this.keys[index] = {
      ...key,
      state: to,
      // Retiring destroys the private half: nothing can sign with the key again, even from a backup of the store.
      sealed: retired ? null : key.sealed,
      privateKey: retired ? null : key.privateKey,
      transitions: [...key.transitions, { state: to, atMs: this.atMs, reason }],
      scheduled
    }
    this.changes.push({ kid, from: key.transitions.length === 0 ? null : key.state, to, atMs: this.atMs, reason, scheduled })
  }

  result (): LifecycleStep {
    const retired = this.keys.filter((key) => key.state === 'retired')
    const dropped = new Set(retired.slice(0, Math.max(0, retired.length - RETIRED_KEYS_KEPT)).map((key) => key.kid))
    return { keys: this.keys.filter((key) => !dropped.has(key.kid)), changes: this.changes }
  }
}

/** The first key of an empty store signs at once: no receiver can have cached an older set. */
export function bootstrap (keys: readonly KeyEntry[], fresh: KeyEntry, atMs: number): LifecycleStep {
  const step = new Step([...keys, fresh], atMs)
  step.move(fresh.kid, 'active', 'bootstrap')
  return step.result()
}

/** Step 1: publish `fresh` as `next`; it starts signing `publishLeadMs` later. */
export function beginRotation (keys: readonly KeyEntry[], fresh: KeyEntry, atMs: number, publishLeadMs: number): LifecycleStep {
  const step = new Step([...keys, fresh], atMs)
  step.move(fresh.kid, 'next', 'rotation', { state: 'active', atMs: atMs + publishLeadMs })
  return step.result()
}

function switchSigningKey (step: Step, to: KeyEntry, reason: TransitionReason, retireAfterMs: number): void {
  const previous = activeKey(step.keys)
  // Both keys stay published across the switch, so a token signed an instant before it still verifies.
  step.move(to.kid, 'active', reason)
  if (previous !== undefined) step.move(previous.kid, 'retiring', reason, { state: 'retired', atMs: step.atMs + retireAfterMs })
}

/** Applies every scheduled transition that is due at `atMs`: step 2 (switch) and step 3 (retire). */
export function applyDue (keys: readonly KeyEntry[], atMs: number, retireAfterMs: number): LifecycleStep {
  const step = new Step(keys, atMs)
  const due = keys.filter((key) => key.scheduled !== null && key.scheduled.atMs <= atMs)
    .sort((a, b) => (a.scheduled as { atMs: number }).atMs - (b.scheduled as { atMs: number }).atMs)
  for (const key of due) {
    const current = step.keys.find((candidate) => candidate.kid === key.kid) as KeyEntry
    if ((key.scheduled as { state: KeyState }).state === 'active') switchSigningKey(step, current, 'rotation', retireAfterMs)
    else step.move(key.kid, 'retired', 'rotation')
  }
  return step.result()
}

/**
 * Undoes the latest rotation while the previous key is still published. Before the switch, the new key has
 * signed nothing and is withdrawn at once; after it, the previous key signs again and the new one retires
 * after `retireAfterMs`, since tokens it signed are still in flight.
 */
export function rollback (keys: readonly KeyEntry[], atMs: number, retireAfterMs: number): LifecycleStep {
  const step = new Step(keys, atMs)
  const next = keys.find((key) => key.state === 'next')
  const retiring = keys.find((key) => key.state === 'retiring')
  if (next !== undefined) step.move(next.kid, 'retired', 'rollback')
  else if (retiring !== undefined) switchSigningKey(step, retiring, 'rollback', retireAfterMs)
  else throw new NothingToRollBackError()
  return step.result()
}

/**
 * Unpublishes `kid` at once. When it was the signing key, the replacement is the key every receiver already
 * trusts if there is one (the retiring key), else the published next key, else `fresh`, which receivers
 * will fetch on first sight.
 */
export function revoke (keys: readonly KeyEntry[], kid: string, atMs: number, fresh: KeyEntry | undefined): LifecycleStep {
  const target = keys.find((key) => key.kid === kid && key.state !== 'retired')
  if (target === undefined) throw new UnknownKeyError(kid)
  const step = new Step(fresh === undefined ? keys : [...keys, fresh], atMs)
  step.move(kid, 'retired', 'revoke')
  if (target.state === 'active') {
    const replacement = revokeReplacement(keys) ?? fresh as KeyEntry
    step.move(replacement.kid, 'active', 'revoke')
  }
  return step.result()
}

/** The key that takes over when the signing key is revoked, or undefined when a fresh one is needed. */
export function revokeReplacement (keys: readonly KeyEntry[]): KeyEntry | undefined {
  return keys.find((key) => key.state === 'retiring') ?? keys.find((key) => key.state === 'next')
}
