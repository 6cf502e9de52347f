import type { KeyState, RunRecord, TransitionRecord } from './run-record.ts'

/** One stretch of a key's life: in `state` from `from` to `to` (ms since the run started). */
export interface LaneSegment {
  state: KeyState
  from: number
  to: number
}

/** A key's lane in the rollover picture. */
export interface KeyLane {
  kid: string
  segments: LaneSegment[]
  /** Deliveries under this key that the receiver verified. */
  verified: number
  /** When it was revoked, if it was. */
  revokedAt: number | null
  /** Its state at the end of the run. */
  finalState: KeyState
}

/** One rotation: publish the new key, switch signing to it, retire the old one. */
export interface RotationTimeline {
  newKid: string
  publishedAt: number
  switchedAt: number | null
  /** The key the switch took signing from. */
  oldKid: string | null
  /** When that old key was retired, or `null` if it was still retiring when the run ended. */
  retiredAt: number | null
}

/** Transitions in time order, grouped by kid. */
function byKid (transitions: readonly TransitionRecord[]): Map<string, TransitionRecord[]> {
  const lanes = new Map<string, TransitionRecord[]>()
  for (const transition of transitions) {
    lanes.set(transition.kid, [...(lanes.get(transition.kid) ?? []), transition])
  }
  return lanes
}

/** Every key that took part, in the order it appeared, with its states over time. */
export function keyLanes (run: RunRecord): KeyLane[] {
  const verified = new Map<string, number>()
  for (const delivery of run.deliveries) {
    if (delivery.status === 200) verified.set(delivery.kid, (verified.get(delivery.kid) ?? 0) + 1)
  }
  return [...byKid([...run.transitions].sort((a, b) => a.at - b.at))].map(([kid, steps]) => ({
    kid,
    segments: steps.map((step, index) => ({ state: step.to, from: step.at, to: steps[index + 1]?.at ?? run.durationMs })),
    verified: verified.get(kid) ?? 0,
    revokedAt: steps.find((step) => step.reason === 'revoke' && step.to === 'retired')?.at ?? null,
    finalState: (steps.at(-1) as TransitionRecord).to
  }))
}

/** Each rotation's three steps, from the transitions the producer emitted. */
export function rotationTimelines (run: RunRecord): RotationTimeline[] {
  const transitions = [...run.transitions].sort((a, b) => a.at - b.at)
  const lanes = byKid(transitions)
  const stepOf = (kid: string | null, from: KeyState, to: KeyState): TransitionRecord | undefined =>
    lanes.get(kid ?? '')?.find((step) => step.from === from && step.to === to)
  return transitions
    .filter((step) => step.from === null && step.to === 'next')
    .map((published) => {
      const switched = stepOf(published.kid, 'next', 'active')
      const oldKid = switched === undefined ? null : (transitions.find((step) => step.at === switched.at && step.from === 'active' && step.to === 'retiring')?.kid ?? null)
      return {
        newKid: published.kid,
        publishedAt: published.at,
        switchedAt: switched?.at ?? null,
        oldKid,
        retiredAt: stepOf(oldKid, 'retiring', 'retired')?.at ?? null
      }
    })
}
