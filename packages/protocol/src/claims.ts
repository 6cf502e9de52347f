import { randomBytes, randomUUID } from 'node:crypto'
import type { JWTPayload, CryptoKey, KeyObject } from 'jose'
import type { SignJWT } from 'jose/jwt/sign'
import type { SigningAlgorithm } from './algorithms.ts'
import { bodyDigest } from './body-digest.ts'
import { JTI_BYTES, TOKEN_TYPE } from './constants.ts'

/** The claims of a webhook token. */
export interface WebhookClaims extends JWTPayload {
  /** The producer. */
  iss: string
  /** The receiver's endpoint URL or configured audience. */
  aud: string
  /** Issued at, seconds since the epoch. */
  iat: number
  /** Expiry: `iat` + token lifetime. */
  exp: number
  /** Unique per delivery attempt; receivers accept each one once. */
  jti: string
  /** The event's id, the same on every attempt: receivers deduplicate on it. */
  webhook_id: string
  /** base64url (no padding) SHA-256 of the exact body bytes. */
  body_sha256: string
}

/** What `signWebhookToken` needs. */
export interface SignWebhookTokenInput {
  privateKey: KeyObject | CryptoKey
  kid: string
  algorithm: SigningAlgorithm
  issuer: string
  audience: string
  /** Stable across retries of the same event. */
  webhookId: string
  /** The exact bytes the receiver will hash. */
  body: Uint8Array
  /** Token lifetime, whole seconds. */
  ttl: number
  /** Milliseconds since the epoch. */
  nowMs: number
}

// jose's signing module, loaded at the first signature and kept: importing the protocol (as the CLI does to
// start, or a consumer that never signs) does not load jose.
let SignJwt: typeof SignJWT | undefined

/** A fresh `jti`: 128 random bits, base64url. */
export function newJti (): string {
  return randomBytes(JTI_BYTES).toString('base64url')
}

/** A fresh `webhook_id`, for events that bring none of their own. */
export function newWebhookId (): string {
  return `wh_${randomUUID()}`
}

/**
 * Signs one delivery attempt: protected header `{ alg, kid, typ: 'webhook+jwt' }` and the claims of
 * the protocol. Every call yields a new `jti`, so every attempt is a distinct token.
 *
 * @example
 * const token = await signWebhookToken({ privateKey, kid, algorithm: 'ES256', issuer: 'https://sender.example',
 *   audience: 'https://receiver.example/hooks', webhookId: 'wh_1', body, ttl: 300, nowMs: Date.now() })
 */
export async function signWebhookToken (input: SignWebhookTokenInput): Promise<string> {
  const iat = Math.floor(input.nowMs / 1000)
  const claims: WebhookClaims = {
    iss: input.issuer,
    aud: input.audience,
    iat,
    exp: iat + input.ttl,
    jti: newJti(),
    webhook_id: input.webhookId,
    body_sha256: bodyDigest(input.body)
  }
  SignJwt ??= (await import('jose/jwt/sign')).SignJWT
  return await new SignJwt(claims)
    .setProtectedHeader({ alg: input.algorithm, kid: input.kid, typ: TOKEN_TYPE })
    .sign(input.privateKey)
}
