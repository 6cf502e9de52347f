import type { DeliveryRecord, Intent, KeyState, RunRecord, TransitionRecord } from '../../examples/rotation-demo/src/run-record.ts'

// A demo run written out by hand, the shape of a real one: three rotations, a fourth under way when the
// signing key is revoked, and the retiring key taking signing back.
export const KIDS = ['kid-a-0000000000', 'kid-b-1111111111', 'kid-c-2222222222', 'kid-d-3333333333', 'kid-e-4444444444'] as const
const [A, B, C, D, E] = KIDS

function step (at: number, kid: string, from: KeyState | null, to: KeyState, reason: TransitionRecord['reason'] = 'rotation'): TransitionRecord {
  return { at, kid, from, to, reason }
}

export const TRANSITIONS: TransitionRecord[] = [
  step(0, A, null, 'active', 'bootstrap'),
  step(4500, B, null, 'next'), step(6000, B, 'next', 'active'), step(6000, A, 'active', 'retiring'), step(10_500, A, 'retiring', 'retired'),
  step(10_500, C, null, 'next'), step(12_000, C, 'next', 'active'), step(12_000, B, 'active', 'retiring'), step(16_500, B, 'retiring', 'retired'),
  step(16_500, D, null, 'next'), step(18_000, D, 'next', 'active'), step(18_000, C, 'active', 'retiring'), step(22_500, C, 'retiring', 'retired'),
  step(22_500, E, null, 'next'), step(24_000, E, 'next', 'active'), step(24_000, D, 'active', 'retiring'),
  step(26_000, E, 'active', 'retired', 'revoke'), step(26_000, D, 'retiring', 'active', 'revoke')
]

export function delivery (intent: Intent, kid: string, status: number, code?: string, attempts = 1): DeliveryRecord {
  return { at: 1000, intent, kid, status, code, attempts }
}

export function demoRun (deliveries: DeliveryRecord[]): RunRecord {
  return {
    startedAt: new Date('2026-11-22T10:00:00.000Z'),
    durationMs: 30_000,
    rate: 50,
    // Out of order on purpose: listeners may record them so.
    transitions: [...TRANSITIONS].reverse(),
    deliveries,
    keySetFetches: [{ at: 0, outcome: 'fetched', kids: [A] }, { at: 5000, outcome: 'cooldown', kids: [A, B] }, { at: 9000, outcome: 'failed', kids: [A, B] }, { at: 26_500, outcome: 'fetched', kids: [C, D] }],
    revoke: { at: 26_000, kid: E, receiverDroppedAt: 26_500 }
  }
}

/** Deliveries that all got the answer they deserved: 3, 2, 2, 5 and 1 verified per key (one after a retry), and one of each attack refused. */
export const GOOD_DELIVERIES: DeliveryRecord[] = [
  ...[A, A, A, B, B, C, C, D, D, D, D, E].map((kid) => delivery('legitimate', kid, 200)),
  delivery('legitimate', D, 200, undefined, 2),
  delivery('tampered', C, 401, 'WEBHOOK_BODY_DIGEST_MISMATCH'),
  delivery('replayed', D, 401, 'WEBHOOK_REPLAYED'),
  delivery('revoked-key', E, 401, 'WEBHOOK_KEY_UNKNOWN')
]
