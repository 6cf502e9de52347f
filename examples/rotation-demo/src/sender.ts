import type { FastifyInstance } from 'fastify'
import type { SignedWebhook } from '@webhook-jwt/producer'
import type { DeliveryRecord, Intent } from './run-record.ts'

/** How often a 503 is tried again, after its Retry-After (capped, to keep the demo short). */
export const MAX_ATTEMPTS = 3
const MAX_RETRY_WAIT_MS = 2000
const ANSWER_TIMEOUT_MS = 5000

interface Answer {
  status: number
  code: string | undefined
  retryAfterSec: number
}

async function post (url: URL, delivery: { headers: Record<string, string>, body: Buffer }): Promise<Answer> {
  try {
    const response = await fetch(url, { method: 'POST', headers: delivery.headers, body: delivery.body, signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) })
    const text = await response.text()
    const code = response.status === 200 ? undefined : (JSON.parse(text) as { code?: string }).code
    return { status: response.status, code, retryAfterSec: Number(response.headers.get('retry-after') ?? 1) }
  } catch (error) {
    return { status: 0, code: `NETWORK_ERROR (${(error as Error).message})`, retryAfterSec: 1 }
  }
}

/**
 * The demo's sender: legitimate deliveries, signed afresh on every attempt with the same webhook id, as the
 * protocol asks; and the attacks a receiver must refuse.
 */
export class DemoSender {
  readonly #producer: FastifyInstance
  readonly #receiverUrl: URL
  readonly #audience: string
  readonly #elapsed: () => number
  #lastVerified: SignedWebhook | null = null

  constructor (producer: FastifyInstance, receiverUrl: URL, audience: string, elapsed: () => number) {
    this.#producer = producer
    this.#receiverUrl = receiverUrl
    this.#audience = audience
    this.#elapsed = elapsed
  }

  async sign (event: unknown, id?: string): Promise<SignedWebhook> {
    return await this.#producer.webhooks.sign(event, id === undefined ? { audience: this.#audience } : { audience: this.#audience, id })
  }

  async legitimate (event: unknown): Promise<DeliveryRecord> {
    let signed: SignedWebhook | null = null
    const record = await this.#deliver('legitimate', async () => {
      signed = await this.sign(event, signed?.id)
      return signed
    })
    if (record.status === 200 && signed !== null) this.#lastVerified = signed
    return record
  }

  /** The body changed in transit: the signature still verifies, the digest cannot. */
  async tampered (event: Record<string, unknown>): Promise<DeliveryRecord> {
    const signed = await this.sign(event)
    const body = Buffer.from(JSON.stringify({ ...event, amount: 1_000_000 }))
    return await this.#deliver('tampered', async () => ({ ...signed, body }))
  }

  /** The last verified delivery, captured and sent again. `null` before any delivery verified. */
  async replayed (): Promise<DeliveryRecord | null> {
    const captured = this.#lastVerified
    return captured === null ? null : await this.#deliver('replayed', async () => captured)
  }

  /** A token captured before its key was revoked, sent after. */
  async underRevokedKey (captured: SignedWebhook): Promise<DeliveryRecord> {
    return await this.#deliver('revoked-key', async () => captured)
  }

  /**
   * Sends, and after a 503 waits its Retry-After and sends again, as every sender should. A legitimate
   * sender signs each attempt afresh (same webhook id); an attacker can only resend what it holds.
   */
  async #deliver (intent: Intent, attempt: () => Promise<Pick<SignedWebhook, 'headers' | 'body' | 'kid'>>): Promise<DeliveryRecord> {
    for (let attempts = 1; ; attempts++) {
      const delivery = await attempt()
      const answer = await post(this.#receiverUrl, delivery)
      if (answer.status !== 503 || attempts === MAX_ATTEMPTS) return { at: this.#elapsed(), intent, kid: delivery.kid, status: answer.status, code: answer.code, attempts }
      await new Promise((resolve) => setTimeout(resolve, Math.min(answer.retryAfterSec * 1000, MAX_RETRY_WAIT_MS)))
    }
  }
}
