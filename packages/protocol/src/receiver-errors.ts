/**
 * What a sender should do with an answer: `never` retry this delivery (the request is wrong and will stay
 * wrong), `retry` it on the normal schedule (re-signed), or retry `after` the `Retry-After` delay.
 */
export type SenderAction = 'never' | 'retry' | 'after'

/** One entry of the receiver's error contract. */
export interface ReceiverError {
  status: 400 | 401 | 503
  action: SenderAction
  /** A short, fixed description, safe to show to the sender. */
  title: string
}

/**
 * The receiver's error contract, written down in `docs/protocol.md`. Codes are stable: senders and
 * dashboards may key on them. 400 and 401 mean the sender cannot fix the request by retrying it, with one
 * exception: `WEBHOOK_KEY_UNKNOWN`, which a sender that has just rotated should retry. 503 always
 * comes with `Retry-After`.
 */
export const RECEIVER_ERRORS = {
  WEBHOOK_TOKEN_MISSING: { status: 401, action: 'never', title: 'The request carries no webhook token' },
  WEBHOOK_TOKEN_MALFORMED: { status: 401, action: 'never', title: 'The webhook token is not a well-formed compact JWS' },
  WEBHOOK_TOKEN_TYPE_INVALID: { status: 401, action: 'never', title: 'The token type is not webhook+jwt' },
  WEBHOOK_ALGORITHM_NOT_ALLOWED: { status: 401, action: 'never', title: 'The signature algorithm is not allowed' },
  WEBHOOK_KEY_UNKNOWN: { status: 401, action: 'retry', title: 'The signing key is not in the sender\'s published key set' },
  WEBHOOK_SIGNATURE_INVALID: { status: 401, action: 'never', title: 'The signature does not verify' },
  WEBHOOK_ISSUER_INVALID: { status: 401, action: 'never', title: 'The token issuer is not the one this key set belongs to' },
  WEBHOOK_AUDIENCE_INVALID: { status: 401, action: 'never', title: 'The token is not addressed to this receiver' },
  WEBHOOK_TOKEN_EXPIRED: { status: 401, action: 'never', title: 'The token has expired' },
  WEBHOOK_TOKEN_NOT_YET_VALID: { status: 401, action: 'never', title: 'The token is not valid yet' },
  WEBHOOK_TOKEN_LIFETIME_TOO_LONG: { status: 401, action: 'never', title: 'The token lives longer than this receiver allows' },
  WEBHOOK_CLAIMS_INVALID: { status: 401, action: 'never', title: 'A required claim is missing or malformed' },
  WEBHOOK_BODY_DIGEST_MISMATCH: { status: 401, action: 'never', title: 'The body does not match the signed digest' },
  WEBHOOK_REPLAYED: { status: 401, action: 'never', title: 'This token has been used before' },
  WEBHOOK_BODY_NOT_ALLOWED: { status: 400, action: 'never', title: 'The request has a body on a method that carries none' },
  WEBHOOK_KEY_UNAVAILABLE: { status: 503, action: 'after', title: 'The signing key cannot be obtained right now' },
  WEBHOOK_REPLAY_STORE_UNAVAILABLE: { status: 503, action: 'after', title: 'The replay check cannot run right now' },
  WEBHOOK_DELIVERY_IN_PROGRESS: { status: 503, action: 'after', title: 'An earlier delivery of this webhook is still being handled' },
  WEBHOOK_OVERLOADED: { status: 503, action: 'after', title: 'The receiver is overloaded' }
} as const satisfies Record<string, ReceiverError>

export type ReceiverErrorCode = keyof typeof RECEIVER_ERRORS

/** Media type of every error body: RFC 9457 problem details. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** The problem-details body a receiver sends with an error code. */
export interface ReceiverProblem {
  type: string
  title: string
  status: number
  code: ReceiverErrorCode
}

/**
 * Builds the problem-details body for a code. It holds only fixed text: never upstream bodies or internals.
 *
 * @example
 * receiverProblem('WEBHOOK_REPLAYED')
 * // { type: 'urn:webhook-jwt:error:WEBHOOK_REPLAYED', title: 'This token has been used before', status: 401, code: 'WEBHOOK_REPLAYED' }
 */
export function receiverProblem (code: ReceiverErrorCode): ReceiverProblem {
  const entry: ReceiverError = RECEIVER_ERRORS[code]
  return { type: `urn:webhook-jwt:error:${code}`, title: entry.title, status: entry.status, code }
}

/** Tells whether `value` is one of the contract's codes (for senders reading an answer). */
export function isReceiverErrorCode (value: unknown): value is ReceiverErrorCode {
  return typeof value === 'string' && Object.hasOwn(RECEIVER_ERRORS, value)
}
