import { formatDuration } from '@webhook-jwt/protocol'
import type { KeyStatus } from '@webhook-jwt/producer'
import { usageError } from './cli-error.ts'

/** The waits of the rotations a store has seen, in seconds: the longest of each. */
export interface ObservedWindows {
  publishLead: number | null
  retireAfter: number | null
}

function enteredAt (key: KeyStatus, state: KeyStatus['state']): number | undefined {
  return key.transitions.find((step) => step.state === state && step.reason === 'rotation')?.at.getTime()
}

/**
 * How long the store's past rotations waited between publishing a key and signing with it, and between the
 * switch and retiring the old key. Scheduled steps count too. A step applied late (no producer running when
 * it fell due) only makes a wait look longer.
 */
export function observedWindows (keys: readonly KeyStatus[]): ObservedWindows {
  let publishLead: number | null = null
  let retireAfter: number | null = null
  const longest = (current: number | null, ms: number): number => Math.max(current ?? 0, ms / 1000)
  for (const key of keys) {
    const published = enteredAt(key, 'next')
    const switched = key.transitions.find((step) => step.state === 'active' && step.reason === 'rotation')?.at.getTime() ?? (key.next?.state === 'active' ? key.next.at.getTime() : undefined)
    if (published !== undefined && switched !== undefined) publishLead = longest(publishLead, switched - published)
    const retiring = key.transitions.findLast((step) => step.state === 'retiring')
    const retired = enteredAt(key, 'retired') ?? (key.next?.state === 'retired' ? key.next.at.getTime() : undefined)
    if (retiring?.reason === 'rotation' && retired !== undefined) retireAfter = longest(retireAfter, retired - retiring.at.getTime())
  }
  return { publishLead, retireAfter }
}

/**
 * The CLI runs a rotation with the waits its flags give, and the producers' waits are not in the store. Left
 * to the defaults, it refuses to wait less than the store's past rotations did: those producers run with
 * longer windows, and a shorter wait could switch before receivers have the new key or retire a key whose
 * tokens are still in flight. A wait given by its flag is the operator's word and is not second-guessed.
 */
export function checkWindows (observed: ObservedWindows, planned: { publishLead: number, retireAfter: number }, given: { publishLead: boolean, retireAfter: boolean }): void {
  for (const [name, flag] of [['publishLead', '--publish-lead'], ['retireAfter', '--retire-after']] as const) {
    const seen = observed[name]
    // A step is applied a little after it falls due (a timer, a store round trip): that slack is not a window.
    if (given[name] || seen === null || seen <= planned[name] * 1.05 + 1) continue
    throw usageError(`the store's past rotations waited up to ${formatDuration(seen)} where this one would wait ${formatDuration(planned[name])} (${flag}, from the defaults of --jwks-max-age, --token-ttl and --clock-skew): your producers likely run with longer windows. Pass ${flag} (or the flags it derives from) as they are configured; a value given is trusted.`)
  }
}
