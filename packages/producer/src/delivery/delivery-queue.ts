/**
 * One webhook to deliver to one endpoint, as a queue stores it between attempts. A job is identified by
 * `id` and `url` together: one event may be delivered to several endpoints under one `webhook_id`.
 */
export interface DeliveryJob {
  /** The `webhook_id`: the same on every attempt. */
  id: string
  url: string
  audience: string
  contentType: string
  /** The exact body bytes, serialised once. */
  body: Buffer
  /** Attempts made so far. */
  attempts: number
  /** When it was accepted (ms since the epoch). */
  acceptedAt: number
  /** Not to be attempted before this (ms since the epoch). */
  notBefore: number
}

/**
 * Where webhooks wait between attempts. The producer takes due jobs, attempts them, and hands each back
 * with `settle`: rescheduled, or finished. Implement it on a durable store to keep deliveries across
 * restarts and share them between replicas: a taken job is then leased, and a lease that is never settled
 * (the process died) makes the job due again.
 *
 * @example
 * app.register(webhookProducer, { issuer, delivery: { queue: memoryDeliveryQueue() } })
 */
export interface DeliveryQueue {
  /** Where the jobs are kept, for logs. */
  readonly description: string
  /** `true` when other processes add to it too (a durable, shared queue): an idle producer then polls it every `delivery.pollInterval`. */
  readonly shared?: boolean
  /** Stores a new job. */
  add(job: DeliveryJob): Promise<void>
  /**
   * Up to `max` jobs due at `nowMs`, earliest first, among those `accept` takes (it is called in that order,
   * and says no to jobs whose endpoint is busy: those stay queued, in place). They belong to the caller
   * until it settles them.
   */
  take(nowMs: number, max: number, accept: (job: DeliveryJob) => boolean): Promise<DeliveryJob[]>
  /** A taken job is done with: `next` is the job rescheduled (its attempts and notBefore updated), or `null` when it is finished. */
  settle(job: DeliveryJob, next: DeliveryJob | null): Promise<void>
  /** When the earliest waiting job is due; `null` when none waits. */
  nextDueAt(): Promise<number | null>
  /**
   * Closes the queue. `unsettled` are jobs taken and not settled (their attempt was cut short). Returns the
   * jobs the queue will not keep, which the producer reports as undelivered: everything, for an in-process
   * queue; nothing, for a durable one.
   */
  close(unsettled: DeliveryJob[]): Promise<DeliveryJob[]>
}

/**
 * The embedded, in-process queue: jobs live in memory and die with the process, so on close every job not
 * delivered yet is returned to be reported (see `delivery.onUndelivered`).
 */
export function memoryDeliveryQueue (): DeliveryQueue {
  let waiting: DeliveryJob[] = []
  const insert = (job: DeliveryJob): void => {
    const at = waiting.findIndex((other) => other.notBefore > job.notBefore)
    waiting.splice(at === -1 ? waiting.length : at, 0, job)
  }
  return {
    description: 'memory (in-process)',
    async add (job) { insert(job) },
    async take (nowMs, max, accept) {
      const taken: DeliveryJob[] = []
      waiting = waiting.filter((job) => {
        if (taken.length === max || job.notBefore > nowMs || !accept(job)) return true
        taken.push(job)
        return false
      })
      return taken
    },
    async settle (_job, next) {
      if (next !== null) insert(next)
    },
    async nextDueAt () {
      return waiting[0]?.notBefore ?? null
    },
    async close (unsettled) {
      const left = [...unsettled, ...waiting]
      waiting = []
      return left
    }
  }
}
