import { describeValue, objectOption, parseDuration, positiveInteger, WebhookOptionError, type Duration } from '@webhook-jwt/protocol'
import { readAllowedNetworks, type DestinationPolicy } from './destination-guard.ts'
import { memoryDeliveryQueue, type DeliveryJob, type DeliveryQueue } from './delivery-queue.ts'
import { DEFAULT_MAX_RETRY_AFTER, DEFAULT_RETRY_JITTER, DEFAULT_RETRY_SCHEDULE, type RetryPolicy } from './retry-policy.ts'

/** A webhook the producer could not deliver before it closed, handed to `delivery.onUndelivered`. */
export type UndeliveredWebhook = Omit<DeliveryJob, 'notBefore'>

/** Options of `delivery`. Durations in seconds, or strings such as `'10m'`. */
export interface DeliveryOptions {
  /** Deadline of one attempt, the answer's body included. Default 15 (Standard Webhooks: 15–30 s). */
  timeout?: Duration
  retry?: {
    /** The wait after each failed attempt; its length is the number of retries. Default: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. */
    schedule?: readonly Duration[]
    /** Random spread of each wait, as a fraction: 0.2 is ±20 %. Default 0.2. */
    jitter?: number
    /** The longest `Retry-After` honoured; a longer one is cut to this. Default 3600. */
    maxRetryAfter?: Duration
  }
  concurrency?: {
    /** Attempts in flight to one origin (scheme, host, port) at once. Default 10. */
    perEndpoint?: number
    /** Attempts in flight in all. Default 100. */
    total?: number
  }
  /** Where webhooks wait between attempts. Default: `memoryDeliveryQueue()`, in-process. */
  queue?: DeliveryQueue
  /** On `app.close()`, how long attempts in flight may finish before they are cut short. Default 10. */
  closeTimeout?: Duration
  /** With a shared queue, how often an idle producer looks for due jobs it was not told about (other replicas', expired leases). Default 5. */
  pollInterval?: Duration
  /**
   * Receives every webhook not delivered when the producer closed (still waiting for a retry, or cut short):
   * store them, or hand them to another sender. Default: each is logged at error level with its id and URL.
   */
  onUndelivered?: (webhooks: UndeliveredWebhook[]) => void | Promise<void>
  /**
   * Networks deliveries may connect to although they are not public, in CIDR notation, IPv4 or IPv6: an
   * internal receiver's range, or loopback in tests. Deliveries connect only to public unicast addresses,
   * checked on the address dialled, after DNS resolution; anything else fails with
   * `WEBHOOK_DESTINATION_FORBIDDEN`. Default `[]`.
   *
   * @example
   * delivery: { allowedNetworks: ['127.0.0.0/8', '::1/128'] } // a receiver on loopback, in tests
   */
  allowedNetworks?: readonly string[]
}

/** Polling more often than this would only load the queue. */
const MIN_POLL_INTERVAL_MS = 100

export interface DeliverySettings {
  timeoutMs: number
  retry: RetryPolicy
  perEndpoint: number
  total: number
  queue: DeliveryQueue
  closeTimeoutMs: number
  pollIntervalMs: number
  onUndelivered: ((webhooks: UndeliveredWebhook[]) => void | Promise<void>) | null
  destinations: DestinationPolicy
}

function isQueue (value: unknown): value is DeliveryQueue {
  const queue = value as Partial<DeliveryQueue> | null
  return typeof queue === 'object' && queue !== null && typeof queue.description === 'string' &&
    (['add', 'take', 'settle', 'nextDueAt', 'close'] as const).every((method) => typeof queue[method] === 'function')
}

/** Validates `delivery` once, at registration; messages name the option. */
export function readDeliveryOptions (value: unknown): DeliverySettings {
  const raw = objectOption(value, 'delivery') as DeliveryOptions
  const retry = objectOption(raw.retry, 'delivery.retry')
  const schedule = retry.schedule ?? DEFAULT_RETRY_SCHEDULE
  if (!Array.isArray(schedule)) throw new WebhookOptionError('delivery.retry.schedule', `must be an array of durations, one wait per retry (got ${describeValue(schedule)})`)
  const jitter = retry.jitter ?? DEFAULT_RETRY_JITTER
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) throw new WebhookOptionError('delivery.retry.jitter', `must be a fraction from 0 to below 1 (got ${describeValue(jitter)})`)
  const concurrency = objectOption(raw.concurrency, 'delivery.concurrency')
  const queue = raw.queue ?? memoryDeliveryQueue()
  if (!isQueue(queue)) throw new WebhookOptionError('delivery.queue', 'must be a delivery queue: description, add(), take(), settle(), nextDueAt() and close(), such as memoryDeliveryQueue()')
  if (raw.onUndelivered !== undefined && typeof raw.onUndelivered !== 'function') throw new WebhookOptionError('delivery.onUndelivered', `must be a function (got ${describeValue(raw.onUndelivered)})`)
  const timeout = parseDuration(raw.timeout ?? 15, 'delivery.timeout')
  if (timeout <= 0) throw new WebhookOptionError('delivery.timeout', 'must be more than 0')
  return {
    timeoutMs: timeout * 1000,
    retry: {
      schedule: schedule.map((wait: unknown, index) => parseDuration(wait as Duration, `delivery.retry.schedule[${index}]`)),
      jitter,
      maxRetryAfter: parseDuration((retry.maxRetryAfter ?? DEFAULT_MAX_RETRY_AFTER) as Duration, 'delivery.retry.maxRetryAfter')
    },
    perEndpoint: positiveInteger(concurrency.perEndpoint, 10, 'delivery.concurrency.perEndpoint'),
    total: positiveInteger(concurrency.total, 100, 'delivery.concurrency.total'),
    queue,
    closeTimeoutMs: parseDuration(raw.closeTimeout ?? 10, 'delivery.closeTimeout') * 1000,
    pollIntervalMs: Math.max(parseDuration(raw.pollInterval ?? 5, 'delivery.pollInterval') * 1000, MIN_POLL_INTERVAL_MS),
    onUndelivered: raw.onUndelivered ?? null,
    destinations: readAllowedNetworks(raw.allowedNetworks)
  }
}
