// What a demo run records, in milliseconds since the run started: the input of the report and the picture.

export type KeyState = 'next' | 'active' | 'retiring' | 'retired'

/** A legitimate delivery, or one of the attacks the receiver must refuse, each with the code it must answer. */
export type Intent = 'legitimate' | 'tampered' | 'replayed' | 'revoked-key'

export const EXPECTED_CODE: Readonly<Record<Exclude<Intent, 'legitimate'>, string>> = {
  tampered: 'WEBHOOK_BODY_DIGEST_MISMATCH',
  replayed: 'WEBHOOK_REPLAYED',
  'revoked-key': 'WEBHOOK_KEY_UNKNOWN'
}

export const INTENT_LABEL: Readonly<Record<Intent, string>> = {
  legitimate: 'legitimate',
  tampered: 'body altered after signing',
  replayed: 'a verified delivery sent again',
  'revoked-key': 'captured token under the revoked key'
}

export interface TransitionRecord {
  at: number
  kid: string
  from: KeyState | null
  to: KeyState
  reason: 'bootstrap' | 'rotation' | 'rollback' | 'revoke'
}

export interface DeliveryRecord {
  /** When the final answer came. */
  at: number
  intent: Intent
  kid: string
  /** The final answer's status: 200, 401, or 503 when retries ran out. */
  status: number
  code: string | undefined
  /** Attempts made: a 503 is retried after its Retry-After, as a sender would. */
  attempts: number
}

export interface KeySetFetchRecord {
  at: number
  outcome: 'fetched' | 'failed' | 'cooldown'
  kids: string[]
}

export interface RevokeRecord {
  at: number
  kid: string
  /** When the receiver first used a key set without the revoked kid; `null` if it never did. */
  receiverDroppedAt: number | null
}

export interface RunRecord {
  /** Wall-clock start, for the page's caption. */
  startedAt: Date
  durationMs: number
  rate: number
  transitions: TransitionRecord[]
  deliveries: DeliveryRecord[]
  keySetFetches: KeySetFetchRecord[]
  revoke: RevokeRecord | null
}

/** A delivery that did not get the answer it deserved: a legitimate one not verified, or an attack not refused with its code. */
export function isFailure (delivery: DeliveryRecord): boolean {
  return delivery.intent === 'legitimate' ? delivery.status !== 200 : delivery.code !== EXPECTED_CODE[delivery.intent]
}
