import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import type { JWK } from 'jose'
import { bodyDigest, keyIdOf, toPublishedJwk, type SigningAlgorithm } from '@webhook-jwt/protocol'

export const ISSUER = 'https://sender.test'
export const AUDIENCE = 'https://receiver.test/hooks'
export const BODY = '{"type":"invoice.paid","invoice":"in_1"}'

/** A signing key as a sender holds it, with its published JWK. */
export interface TestKey {
  kid: string
  alg: SigningAlgorithm
  privateKey: KeyObject
  publicJwk: JWK
}

export async function testKey (alg: SigningAlgorithm = 'ES256'): Promise<TestKey> {
  const { privateKey } = alg === 'EdDSA'
    ? generateKeyPairSync('ed25519')
    : alg === 'ES384'
      ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = privateKey.export({ format: 'jwk' }) as JWK
  const kid = await keyIdOf(jwk)
  return { kid, alg, privateKey, publicJwk: toPublishedJwk(jwk, { kid, alg }) }
}

const base64url = (text: string | Buffer): string => Buffer.from(text).toString('base64url')

/** The signature of `signingInput` (the first two segments, as sent) under the key's algorithm. */
export function signatureOf (key: TestKey, signingInput: string, alg: string = key.alg): Buffer {
  const digest = alg === 'EdDSA' ? null : alg.endsWith('384') ? 'sha384' : 'sha256'
  return sign(digest, Buffer.from(signingInput), {
    key: key.privateKey,
    ...(alg.startsWith('ES') ? { dsaEncoding: 'ieee-p1363' as const } : {}),
    ...(alg.startsWith('PS') ? { padding: 6, saltLength: 32 } : {})
  })
}

/** Signs exactly the header and payload texts given (any JSON, valid or not), with the key's algorithm. */
export function signRaw (key: TestKey, headerText: string, payloadText: string, alg: string = key.alg): string {
  const signingInput = `${base64url(headerText)}.${base64url(payloadText)}`
  return `${signingInput}.${signatureOf(key, signingInput, alg).toString('base64url')}`
}

/** Signs a signing input given segment by segment, however they are encoded. */
export function signSegments (key: TestKey, header: string, payload: string): string {
  return `${header}.${payload}.${signatureOf(key, `${header}.${payload}`).toString('base64url')}`
}

export { base64url }

/** Protocol claims for `body`, valid now, with any member overridden (undefined removes it). */
export function claimsFor (overrides: Record<string, unknown> = {}, body: string = BODY, nowSec = Math.floor(Date.now() / 1000)): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowSec,
    exp: nowSec + 300,
    jti: randomBytes(16).toString('base64url'),
    webhook_id: 'wh_1',
    body_sha256: bodyDigest(body),
    ...overrides
  }
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name]
  return claims
}

/** A protocol token: header `{ alg, kid, typ }` and `claimsFor(...)`, each overridable. */
export function tokenFor (key: TestKey, options: { header?: Record<string, unknown>, claims?: Record<string, unknown>, body?: string, nowSec?: number } = {}): string {
  const header: Record<string, unknown> = { alg: key.alg, kid: key.kid, typ: 'webhook+jwt', ...options.header }
  for (const [name, value] of Object.entries(header)) if (value === undefined) delete header[name]
  return signRaw(key, JSON.stringify(header), JSON.stringify(claimsFor(options.claims, options.body, options.nowSec)))
}
