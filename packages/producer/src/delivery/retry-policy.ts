import type { AttemptAnswer } from './classify-answer.ts'

/**
 * The default wait after each failed attempt, in seconds: the example schedule of Standard Webhooks 1.0
 * (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h). Ten attempts in all, the last one about 3 days
 * and 3.5 hours (75 h 35 min 5 s) after the first, before jitter.
 */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400]
/** Each scheduled wait is stretched or shrunk at random by up to this fraction (Svix uses ±20 %). */
export const DEFAULT_RETRY_JITTER = 0.2
/** A receiver's `Retry-After` replaces the scheduled wait, but never below 1 s nor above this: 1 hour. */
export const DEFAULT_MAX_RETRY_AFTER = 3600
const MIN_RETRY_AFTER = 1

export interface RetryPolicy {
  /** Seconds to wait after attempt 1, 2, …; its length is the number of retries. */
  schedule: readonly number[]
  jitter: number
  maxRetryAfter: number
}

/**
 * How long to wait, in ms, before attempt `attempts + 1` after `attempts` failed ones; `null` when the
 * schedule is used up. `random` returns a number in [0, 1).
 */
export function retryDelayMs (policy: RetryPolicy, attempts: number, answer: AttemptAnswer, random: () => number): number | null {
  const scheduled = policy.schedule[attempts - 1]
  if (scheduled === undefined) return null
  if (answer.kind === 'response' && answer.retryAfterSec !== undefined) {
    return Math.min(Math.max(answer.retryAfterSec, MIN_RETRY_AFTER), policy.maxRetryAfter) * 1000
  }
  return Math.round(scheduled * 1000 * (1 + policy.jitter * (2 * random() - 1)))
}
