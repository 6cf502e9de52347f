import type { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import type { Agent } from 'undici'
import { callAt, emitSafely, type Clock } from '@webhook-jwt/protocol'
import { EndpointGoneError, ProducerClosedError } from '../errors.ts'
import { readDeliveryInput, type DeliveryInput, type SignedWebhook } from '../sign-webhook.ts'
import { classifyAnswer, type AttemptAnswer, type AttemptVerdict } from './classify-answer.ts'
import type { DeliverySettings, UndeliveredWebhook } from './delivery-options.ts'
import type { DeliveryJob } from './delivery-queue.ts'
import { guardedAgent } from './destination-guard.ts'
import { retryDelayMs } from './retry-policy.ts'
import { sendAttempt } from './send-attempt.ts'

/** Options of `app.webhooks.deliver`. */
export interface DeliverOptions {
  /** The `aud` claim. Default: the URL delivered to. */
  audience?: string
  /** The event's id (`webhook_id`), the same on every attempt. Default: a new `wh_<uuid>`. */
  id?: string
  /** `Content-Type` of the body. Default `'application/json'`. */
  contentType?: string
}

/** Every attempt, as it ends. */
export interface DeliveryAttemptEvent {
  id: string
  url: string
  /** 1 for the first attempt. */
  attempt: number
  /** The key that signed this attempt. */
  kid: string
  /** `retry`: another attempt is scheduled at `nextAttemptAt`; `interrupted`: cut short by `app.close()`; the others end the delivery. */
  verdict: AttemptVerdict | 'interrupted'
  /** The HTTP status, when there was an answer. */
  status?: number
  /** The receiver's problem code, when its error body had one. */
  code?: string
  /**
   * When there was no answer: `timeout`, `closed` (cut short by `app.close()`), `WEBHOOK_DESTINATION_FORBIDDEN`
   * (the destination is not a public address: no connection was made, and the verdict is `failed`), or the
   * network error's code (ECONNREFUSED, ECONNRESET…).
   */
  error?: string
  durationMs: number
  nextAttemptAt: Date | null
}

/** How a delivery ended. */
export interface DeliveryOutcomeEvent {
  id: string
  url: string
  /** `failed`: a permanent refusal, or every retry used up; `gone`: the endpoint answered 410; `undelivered`: the producer closed first. */
  outcome: 'delivered' | 'failed' | 'gone' | 'undelivered'
  attempts: number
  /** The last attempt's status, if it had an answer. */
  status?: number
  code?: string
  /** The last attempt's `error`, if it had no answer (`WEBHOOK_DESTINATION_FORBIDDEN`, `ECONNREFUSED`…). */
  error?: string
}

type Signer = (input: DeliveryInput) => Promise<SignedWebhook>

/** A webhook that cannot be signed right now is tried again after this long. */
export const SIGN_RETRY_MS = 5000

const originOf = (url: string): string => new URL(url).origin

/** A URL, or text that may be one, without its user name and password, for messages and logs. */
function withoutCredentials (text: string): string {
  if (!URL.canParse(text)) return text.replace(/^([^:/?#]+:\/\/)[^/?#]*@/, '$1')
  const url = new URL(text)
  url.username = ''
  url.password = ''
  return url.href
}

function readUrl (value: unknown): string {
  const refused = (rule: string): TypeError => new TypeError(`"url" ${rule} (got ${JSON.stringify(typeof value === 'string' ? withoutCredentials(value) : value)})`)
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : null
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw refused('must be an absolute http: or https: URL')
  // They would travel in every event, log line and queued job; a receiver that wants a secret with each
  // delivery has the signed token for that.
  if (url.username !== '' || url.password !== '') throw refused('must not carry a user name or password (user:password@)')
  return url.href
}

function answerFields (answer: AttemptAnswer): Pick<DeliveryAttemptEvent, 'status' | 'code' | 'error'> {
  if (answer.kind === 'timeout') return { error: 'timeout' }
  if (answer.kind === 'network') return { error: answer.error }
  if (answer.kind === 'forbidden') return { error: 'WEBHOOK_DESTINATION_FORBIDDEN' }
  return answer.code === undefined ? { status: answer.status } : { status: answer.status, code: answer.code }
}

/**
 * Delivers webhooks from the queue: takes due jobs, signs each attempt afresh, sends it, classifies the
 * answer, and reschedules or finishes it, within the concurrency limits. On close, it stops taking work,
 * lets attempts in flight finish until the deadline, and reports every webhook it did not deliver.
 */
export class DeliveryDispatcher {
  readonly #settings: DeliverySettings
  readonly #clock: Clock
  readonly #sign: Signer
  readonly #events: EventEmitter
  readonly #log: FastifyBaseLogger
  readonly #agent: Agent
  readonly #closing = new AbortController()
  readonly #gone = new Set<string>()
  /** Jobs taken from the queue and not settled yet. */
  readonly #inHand = new Set<DeliveryJob>()
  readonly #running = new Set<Promise<void>>()
  readonly #perEndpoint = new Map<string, number>()
  #started = false
  #closed = false
  #pumping: Promise<void> | null = null
  #pumpAgain = false
  #cancelTimer: () => void = () => {}

  constructor (settings: DeliverySettings, clock: Clock, sign: Signer, events: EventEmitter, log: FastifyBaseLogger) {
    this.#settings = settings
    this.#clock = clock
    this.#sign = sign
    this.#events = events
    this.#log = log
    this.#agent = guardedAgent(settings.destinations)
  }

  async deliver (url: unknown, event: unknown, options: DeliverOptions = {}): Promise<{ id: string }> {
    if (this.#closed) throw new ProducerClosedError()
    const target = readUrl(url)
    if (this.#gone.has(target)) throw new EndpointGoneError(target)
    const now = this.#clock.now()
    const job: DeliveryJob = {
      ...readDeliveryInput(event, { ...options, audience: options.audience === undefined ? target : options.audience }),
      url: target,
      attempts: 0,
      acceptedAt: now,
      notBefore: now
    }
    await this.#settings.queue.add(job)
    this.#wake()
    return { id: job.id }
  }

  /** Endpoints that answered 410 Gone: new deliveries to them are refused until `restore(url)`. */
  gone (): string[] {
    return [...this.#gone]
  }

  restore (url: unknown): void {
    this.#gone.delete(readUrl(url))
  }

  start (): void {
    this.#started = true
    this.#wake()
  }

  #wake (): void {
    if (!this.#started || this.#closed) return
    if (this.#pumping !== null) {
      this.#pumpAgain = true
      return
    }
    this.#pumping = this.#pump().catch((error: unknown) => {
      this.#log.error({ err: error, queue: this.#settings.queue.description }, `webhook delivery queue failed; trying again in ${this.#settings.pollIntervalMs / 1000} s`)
      this.#arm(this.#clock.now() + this.#settings.pollIntervalMs)
    }).finally(() => {
      this.#pumping = null
      if (this.#pumpAgain) {
        this.#pumpAgain = false
        this.#wake()
      }
    })
  }

  /**
   * Takes due jobs while attempts may start, only for endpoints below their limit (the others stay queued,
   * in order); then sleeps until the next job is due, or, for a shared queue, the poll interval.
   */
  async #pump (): Promise<void> {
    while (!this.#closed) {
      const room = this.#settings.total - this.#running.size
      if (room <= 0) return
      const taking = new Map<string, number>()
      let refused = false
      const jobs = await this.#settings.queue.take(this.#clock.now(), room, (job) => {
        const endpoint = originOf(job.url)
        const busy = (this.#perEndpoint.get(endpoint) ?? 0) + (taking.get(endpoint) ?? 0)
        if (busy >= this.#settings.perEndpoint) {
          refused = true
          return false
        }
        taking.set(endpoint, (taking.get(endpoint) ?? 0) + 1)
        return true
      })
      if (jobs.length === 0) {
        const now = this.#clock.now()
        const due = (await this.#settings.queue.nextDueAt()) ?? Infinity
        // A job due but refused (its endpoint is busy) needs no timer: the attempt that frees the endpoint
        // wakes us, and a timer for it would spin. One due since the take gets a timer that fires at once.
        const wake = due > now || !refused ? due : Infinity
        // A shared queue also gets jobs from other replicas, and expired leases, without telling this one.
        const at = Math.min(wake, this.#settings.queue.shared === true ? now + this.#settings.pollIntervalMs : Infinity)
        if (at !== Infinity) this.#arm(at)
        return
      }
      for (const job of jobs) this.#start(job)
    }
  }

  #arm (atMs: number): void {
    this.#cancelTimer()
    if (!this.#closed) this.#cancelTimer = callAt(this.#clock, atMs, () => this.#wake())
  }

  #start (job: DeliveryJob): void {
    this.#inHand.add(job)
    const endpoint = originOf(job.url)
    this.#perEndpoint.set(endpoint, (this.#perEndpoint.get(endpoint) ?? 0) + 1)
    const running: Promise<void> = this.#attempt(job).catch((error: unknown) => {
      // Signing or the queue failed: the job stays in hand, and is reported at close as undelivered.
      this.#log.error({ err: error, webhookId: job.id, url: job.url }, 'webhook delivery attempt failed before it could be settled; the webhook will be reported as undelivered at close')
    }).finally(() => {
      this.#running.delete(running)
      const busy = (this.#perEndpoint.get(endpoint) as number) - 1
      if (busy === 0) this.#perEndpoint.delete(endpoint)
      else this.#perEndpoint.set(endpoint, busy)
      this.#wake()
    })
    this.#running.add(running)
  }

  async #attempt (job: DeliveryJob): Promise<void> {
    if (this.#gone.has(job.url)) {
      await this.#finish(job, { id: job.id, url: job.url, outcome: 'gone', attempts: job.attempts })
      return
    }
    const attempt = job.attempts + 1
    const started = this.#clock.now()
    let signed: SignedWebhook
    try {
      signed = await this.#sign(job)
    } catch (error) {
      // Nothing may sign right now (a replica whose keys went unconfirmed past maxStaleness): no attempt is
      // made or counted, and the job waits in the queue.
      this.#log.warn({ err: error, webhookId: job.id, url: job.url, retryInMs: SIGN_RETRY_MS }, 'webhook could not be signed; it stays queued and is tried again')
      await this.#settings.queue.settle(job, { ...job, notBefore: started + SIGN_RETRY_MS })
      this.#inHand.delete(job)
      return
    }
    const answer = await sendAttempt({ url: job.url, headers: signed.headers, body: job.body, timeoutMs: this.#settings.timeoutMs, clock: this.#clock, closing: this.#closing.signal, agent: this.#agent })
    const now = this.#clock.now()
    if (this.#closing.signal.aborted && answer.kind !== 'response') {
      // Cut short by close(): counted, reported as an attempt, and the job is reported as undelivered.
      this.#inHand.delete(job)
      const cut = { ...job, attempts: attempt }
      this.#inHand.add(cut)
      this.#emitAttempt({ id: job.id, url: job.url, attempt, kid: signed.kid, verdict: 'interrupted', error: 'closed', durationMs: now - started, nextAttemptAt: null })
      return
    }
    const classified = classifyAnswer(answer)
    const delayMs = classified === 'retry' ? retryDelayMs(this.#settings.retry, attempt, answer, Math.random) : null
    const verdict = classified === 'retry' && delayMs === null ? 'failed' : classified
    const fields = answerFields(answer)
    this.#emitAttempt({ id: job.id, url: job.url, attempt, kid: signed.kid, verdict, ...fields, durationMs: now - started, nextAttemptAt: delayMs === null ? null : new Date(now + delayMs) })
    if (delayMs !== null) {
      await this.#settings.queue.settle(job, { ...job, attempts: attempt, notBefore: now + delayMs })
      this.#inHand.delete(job)
      return
    }
    if (verdict === 'gone') this.#gone.add(job.url)
    const { status, code, error } = fields
    const outcome = { id: job.id, url: job.url, outcome: verdict as DeliveryOutcomeEvent['outcome'], attempts: attempt, ...(status === undefined ? {} : { status }), ...(code === undefined ? {} : { code }), ...(error === undefined ? {} : { error }) }
    await this.#finish(job, outcome, answer.kind === 'forbidden' ? answer.reason : undefined)
  }

  /** `reason`, when there is one, is logged with the outcome: a forbidden destination's error names the address refused. */
  async #finish (job: DeliveryJob, outcome: DeliveryOutcomeEvent, reason?: Error): Promise<void> {
    await this.#settings.queue.settle(job, null)
    this.#inHand.delete(job)
    if (outcome.outcome !== 'delivered') this.#log.warn({ webhookId: outcome.id, url: outcome.url, outcome: outcome.outcome, attempts: outcome.attempts, status: outcome.status, code: outcome.code, error: outcome.error, err: reason }, `webhook ${outcome.outcome}`)
    this.#report(outcome)
  }

  #emitAttempt (event: DeliveryAttemptEvent): void {
    emitSafely(this.#events, 'attempt', event, (error) => this.#log.error({ err: error }, 'a webhook attempt listener failed'))
  }

  #report (outcome: DeliveryOutcomeEvent): void {
    emitSafely(this.#events, 'outcome', outcome, (error) => this.#log.error({ err: error }, 'a webhook outcome listener failed'))
  }

  /**
   * Stops taking work, lets attempts in flight finish within `closeTimeout`, cuts the rest short, and
   * reports every webhook the queue does not keep: through `onUndelivered`, an `undelivered` outcome each,
   * and the log.
   */
  async close (): Promise<void> {
    this.#closed = true
    this.#cancelTimer()
    // Every wait is bounded: a queue that hangs (a store offline) must not keep the app from closing. What is
    // still in hand after the waits is reported as undelivered.
    const within = async (work: Promise<unknown>): Promise<void> => {
      let deadline: NodeJS.Timeout | undefined
      await Promise.race([work, new Promise<void>((resolve) => { deadline = setTimeout(resolve, this.#settings.closeTimeoutMs).unref() })])
      clearTimeout(deadline)
    }
    await within(Promise.resolve(this.#pumping))
    await within(Promise.all(this.#running))
    this.#closing.abort()
    await within(Promise.all(this.#running))
    await this.#agent.destroy()
    const left = await this.#settings.queue.close([...this.#inHand])
    if (left.length === 0) return
    const undelivered: UndeliveredWebhook[] = left.map(({ notBefore: _notBefore, ...webhook }) => webhook)
    for (const webhook of undelivered) {
      this.#log.error({ webhookId: webhook.id, url: webhook.url, attempts: webhook.attempts }, 'webhook undelivered: the producer closed before it was delivered')
      this.#report({ id: webhook.id, url: webhook.url, outcome: 'undelivered', attempts: webhook.attempts })
    }
    try {
      await this.#settings.onUndelivered?.(undelivered)
    } catch (error) {
      this.#log.error({ err: error, count: undelivered.length }, 'delivery.onUndelivered failed; the webhooks above were not delivered')
    }
  }
}
