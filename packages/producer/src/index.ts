import { EventEmitter } from 'node:events'
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { listenerMethods } from '@webhook-jwt/protocol'
import { registerJwksRoute } from './jwks/jwks-route.ts'
import { readProducerOptions, type WebhookProducerOptions } from './options.ts'
import { signWebhook, type SignOptions, type SignedWebhook } from './sign-webhook.ts'
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
  off(event: 'transition' | 'stepFailed', listener: (...args: never[]) => void): this
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
  await keys.open()
  fastify.log.info({ keyStore: settings.keyStore.description, activeKid: keys.active.kid }, `webhook signing keys are stored in ${settings.keyStore.description}`)

  const webhooks: WebhookProducer = {
    sign: async (event, signOptions) => await signWebhook(keys, settings, event, signOptions),
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
  fastify.addHook('onReady', async () => keys.start())
  fastify.addHook('onClose', async () => await keys.close())
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
export { DEFAULT_KEY_FILE, DEFAULT_ROTATION_PERIOD } from './options.ts'
export type { SignOptions, SignedWebhook } from './sign-webhook.ts'
export type { KeyTransitionEvent, ProducerHealth, ProducerStatus, KeyStatus, RotationResult } from './signing-keys.ts'
export { STEP_RETRY_MS } from './signing-keys.ts'
export type { KeyStore, StoredKeySet, StoredKey, StoredPrivateKey, KeyState, TransitionReason } from './key-store/key-store.ts'
export { KEY_SET_FORMAT } from './key-store/key-store.ts'
export { memoryKeyStore } from './key-store/memory-key-store.ts'
export { fileKeyStore, type FileKeyStoreOptions } from './key-store/file-key-store.ts'
export * from './errors.ts'
// Registration refuses a bad option with this error; re-exported so an app can test for it without depending on the protocol package.
export { WebhookOptionError } from '@webhook-jwt/protocol'
