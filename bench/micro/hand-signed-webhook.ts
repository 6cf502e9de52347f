import { createHash, randomBytes, randomUUID, type KeyObject } from 'node:crypto'
import { SignJWT } from 'jose'
import type { SigningAlgorithm } from '@webhook-jwt/protocol'

/** What a sender writes by hand with jose: serialise the event, hash the body, sign the protocol's claims. */
export interface HandSigner {
  sign(event: unknown, audience: string): Promise<{ token: string, body: Buffer, id: string }>
}

export function handSigner (privateKey: KeyObject, kid: string, algorithm: SigningAlgorithm, issuer: string, ttlSec: number): HandSigner {
  return {
    async sign (event, audience) {
      const body = Buffer.from(JSON.stringify(event))
      const id = `wh_${randomUUID()}`
      const iat = Math.floor(Date.now() / 1000)
      const token = await new SignJWT({
        iss: issuer,
        aud: audience,
        iat,
        exp: iat + ttlSec,
        jti: randomBytes(16).toString('base64url'),
        webhook_id: id,
        body_sha256: createHash('sha256').update(body).digest('base64url')
      }).setProtectedHeader({ alg: algorithm, kid, typ: 'webhook+jwt' }).sign(privateKey)
      return { token, body, id }
    }
  }
}
