import { EventEmitter } from 'node:events'
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { listenerMethods } from '@webhook-jwt/protocol'
import { registerJwksRoute } from './jwks/jwks-route.ts'
import { readProducerOptions, type WebhookProducerOptions } from './options.ts'
import { signBody, signWebhook, type SignOptions, type SignedWebhook } from './sign-webhook.ts'
import { DeliveryDispatcher, type DeliverOptions, type DeliveryAttemptEvent, type DeliveryOutcomeEvent } from './delivery/dispatcher.ts'
import { SigningKeys, type KeyTransitionEvent, type ProducerHealth, type ProducerStatus, type RotationResult } from './signing-keys.ts'

/** The producer's API, at `app.webhooks`. */
export interface WebhookProducer {
  /**
   * Signs a delivery with the active key.
   *
   * @example
   * const { body, headers } = await app.webhooks.sign({ type: 'invoice.paid', invoice: 'in_1' }, { audience: 'https://receiver.example/hooks' })
   * await fetch('https://receiver.example/hooks', { method: 'POST', headers, body })
   */
  sign(event: unknown, options: SignOptions): Promise<SignedWebhook>
  /**
   * Queues `event` for delivery to `url` and resolves with its webhook id once the queue holds it. Each
   * attempt is signed afresh (new `iat`, `exp`, `jti`; the same `webhook_id`), POSTed with a deadline, and
   * retried on the schedule while the answer says it may succeed later. Follow it with the `attempt` and
   * `outcome` events. Attempts connect only to public addresses (checked after DNS resolution) unless
   * `delivery.allowedNetworks` allows others: any other fails at once with `WEBHOOK_DESTINATION_FORBIDDEN`.
   * A URL with a user name or password throws a `TypeError`.
   *
   * @example
   * const { id } = await app.webhooks.deliver('https://receiver.example/hooks', { type: 'invoice.paid', invoice: 'in_1' })
   * app.webhooks.on('outcome', ({ id, outcome, attempts }) => metrics.count(`webhook.${outcome}`))
   */
  deliver(url: string, event: unknown, options?: DeliverOptions): Promise<{ id: string }>
  /** Endpoints that answered 410 Gone: `deliver()` to them throws `WEBHOOK_ENDPOINT_GONE`. */
  goneEndpoints(): string[]
  /** Accepts deliveries to an endpoint that answered 410 Gone again. */
  restoreEndpoint(url: string): void
  /**
   * Rotates the signing key: publishes a new key, waits `rotation.publishLead`, switches signing to it, waits
   * `rotation.retireAfter`, retires the old key. Settles when the old key is retired. While a rotation runs,
   * returns that rotation's promise instead of starting another.
   *
   * @example
   * const { previousKid, activeKid } = await app.webhooks.rotate()
   */
  rotate(): Promise<RotationResult>
  /**
   * Makes the previous key sign again while it is still published. Before the switch this cancels the rotation;
   * after it, the newer key retires after `rotation.retireAfter`.
   */
  rollback(): Promise<void>
  /**
   * Unpublishes a compromised key at once. Tokens it signed that are still in flight stop verifying as soon as
   * receivers refresh their key set: that is the point. Revoking the signing key hands signing to the key
   * receivers already trust if there is one, else to a new key.
   */
  revoke(kid: string): Promise<void>
  /** Each key with its state, its past transitions and its next one. */
  status(): ProducerStatus
  /** Whether a key signs, no rotation step is failing, and the key store can be read (it is read to find out). */
  health(): Promise<ProducerHealth>
  /** Listens to key transitions (`transition`) and failed scheduled steps (`stepFailed`, retried after 5 s). */
  on(event: 'transition', listener: (event: KeyTransitionEvent) => void): this
  on(event: 'stepFailed', listener: (error: Error) => void): this
  /** Every delivery attempt as it ends: its answer, its duration, and when the next one is due. */
  on(event: 'attempt', listener: (event: DeliveryAttemptEvent) => void): this
  /** How each delivery ended: delivered, failed, gone, or undelivered (the producer closed first). */
  on(event: 'outcome', listener: (event: DeliveryOutcomeEvent) => void): this
  off(event: 'transition' | 'stepFailed' | 'attempt' | 'outcome', listener: (...args: never[]) => void): this
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The webhook producer: sign, rotate, roll back, revoke, status, health. */
    webhooks: WebhookProducer
  }
  interface FastifyReply {
    /**
     * Signs `event` and sends it as this reply: token header, `content-type`, `webhook-id`, and the exact body.
     *
     * @example
     * app.get('/events/latest', async (request, reply) => reply.webhook(latestEvent, { audience: 'https://receiver.example/hooks' }))
     */
    webhook(event: unknown, options: SignOptions): Promise<FastifyReply>
  }
}

async function webhookProducer (fastify: FastifyInstance, options: WebhookProducerOptions): Promise<void> {
  const settings = readProducerOptions(options)
  const events = new EventEmitter()
  const keys = new SigningKeys(settings, fastify.log, events)
  try {
    await keys.open()
  } catch (error) {
    // No onClose hook is added when registration fails: a store's connections are released here.
    await settings.keyStore.close?.()
    throw error
  }
  const dispatcher = new DeliveryDispatcher(settings.delivery, settings.clock, async (input) => await signBody(keys, settings, input), events, fastify.log)
  fastify.log.info({ keyStore: settings.keyStore.description, activeKid: keys.active.kid }, `webhook signing keys are stored in ${settings.keyStore.description}`)

  const webhooks: WebhookProducer = {
    sign: async (event, signOptions) => await signWebhook(keys, settings, event, signOptions),
    deliver: async (url, event, deliverOptions) => await dispatcher.deliver(url, event, deliverOptions),
    goneEndpoints: () => dispatcher.gone(),
    restoreEndpoint: (url) => dispatcher.restore(url),
    rotate: () => keys.rotate(),
    rollback: () => keys.rollback(),
    revoke: (kid) => keys.revoke(kid),
    status: () => keys.status(),
    health: () => keys.health(),
    ...listenerMethods<WebhookProducer>(events)
  }
  fastify.decorate('webhooks', webhooks)
  fastify.decorateReply('webhook', async function (this: FastifyReply, event: unknown, signOptions: SignOptions) {
    const signed = await signWebhook(keys, settings, event, signOptions)
    return await this.headers(signed.headers).send(signed.body)
  })
  registerJwksRoute(fastify, settings.jwksPath, settings.jwksMaxAge, keys)
  fastify.addHook('onReady', async () => {
    keys.start()
    dispatcher.start()
  })
  // Deliveries first: attempts in flight still need their keys.
  fastify.addHook('onClose', async () => {
    await dispatcher.close()
    await keys.close()
  })
}

/**
 * A health check for `@fastify/under-pressure`: unhealthy when no key signs, a rotation step keeps failing,
 * or the key store cannot be read.
 *
 * @example
 * await app.register(underPressure, { healthCheck: producerHealthCheck, exposeStatusRoute: true })
 */
export async function producerHealthCheck (fastify: FastifyInstance): Promise<boolean> {
  return (await fastify.webhooks.health()).healthy
}

export const webhookProducerPlugin = fp(webhookProducer, { fastify: '5.x', name: '@webhook-jwt/producer' })
export default webhookProducerPlugin
export { webhookProducerPlugin as webhookProducer }
export type { WebhookProducerOptions } from './options.ts'
export { DEFAULT_KEY_FILE, DEFAULT_ROTATION_PERIOD, minimumRotationWaits } from './options.ts'
export type { SignOptions, SignedWebhook } from './sign-webhook.ts'
export type { DeliverOptions, DeliveryAttemptEvent, DeliveryOutcomeEvent } from './delivery/dispatcher.ts'
export type { DeliveryOptions, UndeliveredWebhook } from './delivery/delivery-options.ts'
export { memoryDeliveryQueue, type DeliveryQueue, type DeliveryJob } from './delivery/delivery-queue.ts'
export { DEFAULT_RETRY_SCHEDULE, DEFAULT_RETRY_JITTER, DEFAULT_MAX_RETRY_AFTER } from './delivery/retry-policy.ts'
export { classifyAnswer, type AttemptVerdict } from './delivery/classify-answer.ts'
export { SIGN_RETRY_MS } from './delivery/dispatcher.ts'
export type { KeyTransitionEvent, ProducerHealth, ProducerStatus, KeyStatus, RotationResult } from './signing-keys.ts'
export { STEP_RETRY_MS, readStoredKeys } from './signing-keys.ts'
export type { KeyStore, KeyStoreLease, StoredKeySet, StoredKey, StoredPrivateKey, KeyState, TransitionReason } from './key-store/key-store.ts'
export { KEY_SET_FORMAT } from './key-store/key-store.ts'
export { memoryKeyStore } from './key-store/memory-key-store.ts'
export { fileKeyStore, DEFAULT_KEY_FILE_MAX_BYTES, type FileKeyStoreOptions } from './key-store/file-key-store.ts'
export * from './errors.ts'
// Registration refuses a bad option with this error; re-exported so an app can test for it without depending on the protocol package.
export { WebhookOptionError } from '@webhook-jwt/protocol'
