import { RECEIVER_ERRORS, type ReceiverError, type ReceiverErrorCode } from '@webhook-jwt/protocol'

/**
 * Why a webhook was refused: a code of the receiver's contract (`docs/protocol.md`), its HTTP status and,
 * for 503s, how many seconds the sender should wait. The message is fixed text, safe to send back.
 */
export class WebhookVerificationError extends Error {
  readonly code: ReceiverErrorCode
  readonly statusCode: ReceiverError['status']
  /** Whole seconds, at least 1: the `Retry-After` of a 503 answer. */
  readonly retryAfter: number

  constructor (code: ReceiverErrorCode, retryAfter?: number) {
    super(RECEIVER_ERRORS[code].title)
    this.name = 'WebhookVerificationError'
    this.code = code
    this.statusCode = RECEIVER_ERRORS[code].status
    this.retryAfter = Math.max(1, Math.ceil(retryAfter ?? 0))
  }
}

/** Shorthand for the pipeline: `reject('WEBHOOK_TOKEN_EXPIRED')`. */
export function reject (code: ReceiverErrorCode, retryAfter?: number): never {
  throw new WebhookVerificationError(code, retryAfter)
}
