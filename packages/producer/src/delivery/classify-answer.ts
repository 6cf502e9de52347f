import { isReceiverErrorCode, RECEIVER_ERRORS } from '@webhook-jwt/protocol'

/** What one attempt got back: an HTTP answer, or no answer at all. */
export type AttemptAnswer =
  | { kind: 'response', status: number, code: string | undefined, retryAfterSec: number | undefined }
  | { kind: 'timeout' }
  | { kind: 'network', error: string }
  /** Refused before any connection: the destination is not a public address (`WEBHOOK_DESTINATION_FORBIDDEN`). */
  | { kind: 'forbidden', reason: Error }

/** What to do next: stop (delivered, gone, failed) or try again. */
export type AttemptVerdict = 'delivered' | 'retry' | 'gone' | 'failed'

/** Statuses that say "later", whatever their body: 408 Request Timeout and 429 Too Many Requests. */
const TRY_LATER = new Set([408, 429])

/**
 * The classification of an answer, from the receiver's error contract (docs/protocol.md §4) and common HTTP
 * practice (Standard Webhooks): 2xx is delivered; 410 means the endpoint is gone for good; 408, 429, 3xx
 * (redirects are not followed), 5xx, timeouts and network errors are retried; any other 4xx is permanent,
 * unless its problem code is one the contract says to retry (`WEBHOOK_KEY_UNKNOWN`: the receiver has not
 * seen a new key yet). A destination refused as not public fails at once: the refusal is the sender's
 * policy, which no retry changes.
 */
export function classifyAnswer (answer: AttemptAnswer): AttemptVerdict {
  if (answer.kind === 'forbidden') return 'failed'
  if (answer.kind !== 'response') return 'retry'
  const { status, code } = answer
  if (status >= 200 && status < 300) return 'delivered'
  if (status === 410) return 'gone'
  if (status < 400 || status >= 500 || TRY_LATER.has(status)) return 'retry'
  if (isReceiverErrorCode(code) && RECEIVER_ERRORS[code].action !== 'never') return 'retry'
  return 'failed'
}

/** `Retry-After` in seconds: a delay, or an HTTP date (RFC 9110 §10.2.3). Anything else is ignored. */
export function parseRetryAfter (value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim())
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, (at - nowMs) / 1000)
}
