import { WEBHOOK_ID_HEADER, newWebhookId, signWebhookToken } from '@webhook-jwt/protocol'
import type { ProducerSettings } from './options.ts'
import type { SigningKeys } from './signing-keys.ts'

/** Options of `app.webhooks.sign` and `reply.webhook`. */
export interface SignOptions {
  /** The `aud` claim: the receiver's endpoint URL, or the audience it is configured with. Required. */
  audience: string
  /** The event's id, the same on every retry (`webhook_id`). Default: a new `wh_<uuid>`. */
  id?: string
  /** `Content-Type` of the body. Default `'application/json'`. */
  contentType?: string
}

/** A signed delivery, ready to send. */
export interface SignedWebhook {
  /** The compact JWT. */
  token: string
  /** The exact bytes `body_sha256` covers: send these, unchanged. */
  body: Buffer
  /** The token header, `content-type` and `webhook-id`. */
  headers: Record<string, string>
  /** The `webhook_id`. */
  id: string
  /** The key that signed it. */
  kid: string
}

function serialiseBody (event: unknown): Buffer {
  if (event instanceof Uint8Array) return Buffer.from(event)
  const json = JSON.stringify(event)
  if (json === undefined) throw new TypeError('the webhook event must be JSON-serialisable or a Uint8Array of the exact body bytes')
  return Buffer.from(json)
}

export function requireText (value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`"${name}" must be a non-empty string`)
  return value
}

/** A delivery ready to sign: its options checked and defaulted, its body serialised once. */
export interface DeliveryInput {
  audience: string
  id: string
  contentType: string
  body: Buffer
}

/** Checks the options of `sign`, `reply.webhook` and `deliver`, fills in their defaults, and serialises the event. */
export function readDeliveryInput (event: unknown, options: SignOptions): DeliveryInput {
  const audience = requireText(options?.audience, 'audience')
  const id = options.id === undefined ? newWebhookId() : requireText(options.id, 'id')
  const contentType = options.contentType === undefined ? 'application/json' : requireText(options.contentType, 'contentType')
  return { audience, id, contentType, body: serialiseBody(event) }
}

/**
 * Signs one delivery with the active key. A key revoked while the signature was being computed is caught
 * afterwards and the delivery is signed again with its replacement, so no returned token names a key that
 * is not published.
 */
export async function signWebhook (keys: SigningKeys, settings: ProducerSettings, event: unknown, options: SignOptions): Promise<SignedWebhook> {
  return await signBody(keys, settings, readDeliveryInput(event, options))
}

/** Signs `input.body` as it is, with the active key (see signWebhook). */
export async function signBody (keys: SigningKeys, settings: ProducerSettings, input: DeliveryInput): Promise<SignedWebhook> {
  const key = keys.active
  const token = await signWebhookToken({
    privateKey: key.privateKey as NonNullable<typeof key.privateKey>,
    kid: key.kid,
    algorithm: key.alg,
    issuer: settings.issuer,
    audience: input.audience,
    webhookId: input.id,
    body: input.body,
    ttl: settings.tokenTtl,
    nowMs: settings.clock.now()
  })
  if (!keys.isPublished(key.kid)) return await signBody(keys, settings, input)
  return {
    token,
    body: input.body,
    headers: {
      [settings.header]: settings.header === 'authorization' ? `Bearer ${token}` : token,
      'content-type': input.contentType,
      [WEBHOOK_ID_HEADER]: input.id
    },
    id: input.id,
    kid: key.kid
  }
}
