import { createHash, randomBytes } from 'node:crypto'
import type { SigningAlgorithm } from '@webhook-jwt/protocol'

/**
 * A well-formed token with valid claims whose `kid` no key set holds: a random 256-bit thumbprint-like id.
 * Its signature is random bytes of the right length: the consumer stops at the key lookup, before any
 * signature check, so nothing needs signing.
 */
export function unknownKidToken (algorithm: SigningAlgorithm, issuer: string, audience: string, webhookId: string, body: Buffer, ttlSec: number): string {
  const iat = Math.floor(Date.now() / 1000)
  const header = Buffer.from(JSON.stringify({ alg: algorithm, kid: randomBytes(32).toString('base64url'), typ: 'webhook+jwt' })).toString('base64url')
  const claims = Buffer.from(JSON.stringify({
    iss: issuer,
    aud: audience,
    iat,
    exp: iat + ttlSec,
    jti: randomBytes(16).toString('base64url'),
    webhook_id: webhookId,
    body_sha256: createHash('sha256').update(body).digest('base64url')
  })).toString('base64url')
  return `${header}.${claims}.${randomBytes(algorithm.startsWith('RS') || algorithm.startsWith('PS') ? 256 : 64).toString('base64url')}`
}
