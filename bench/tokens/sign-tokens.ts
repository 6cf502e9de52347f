import { constants, createHash, createPrivateKey, randomBytes, sign, type JsonWebKey, type KeyObject } from 'node:crypto'
import type { SigningAlgorithm } from '@webhook-jwt/protocol'
import { webhookBodyOf, webhookIdOf } from './webhook-body.ts'

/** What a token signer needs: the sender's key and the claims that are the same on every token. */
export interface SigningMaterial {
  algorithm: SigningAlgorithm
  kid: string
  privateJwk: JsonWebKey
  issuer: string
  audience: string
  /** `exp − iat`; at most the consumer's maxTokenAge (300 s). */
  ttlSec: number
}

/** Tokens `start` … `start + count − 1`, back to back, with the offsets that cut them apart. */
export interface SignedBatch {
  start: number
  count: number
  bytes: Uint8Array
  /** `count + 1` offsets into `bytes`. */
  offsets: Uint32Array
  /** The earliest `exp` in the batch, seconds since the epoch. */
  minExp: number
}

/** The node:crypto digest and signature encoding of a JWS algorithm. */
function jwsSigner (algorithm: SigningAlgorithm, key: KeyObject): (input: Buffer) => Buffer {
  switch (algorithm) {
    case 'ES256': return (input) => sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' })
    case 'ES384': return (input) => sign('sha384', input, { key, dsaEncoding: 'ieee-p1363' })
    case 'EdDSA': return (input) => sign(null, input, key)
    case 'RS256': return (input) => sign('sha256', input, key)
    case 'PS256': return (input) => sign('sha256', input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
  }
}

function base64urlJson (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/**
 * Signs webhooks `start` … `start + count − 1` as the protocol says: header `{ alg, kid, typ: 'webhook+jwt' }`,
 * claims iss, aud, iat, exp, jti (128 random bits), webhook_id and body_sha256 (base64url SHA-256 of the
 * exact body).
 */
export function signBatch (material: SigningMaterial, start: number, count: number): SignedBatch {
  const signJws = jwsSigner(material.algorithm, createPrivateKey({ key: material.privateJwk, format: 'jwk' }))
  const header = base64urlJson({ alg: material.algorithm, kid: material.kid, typ: 'webhook+jwt' })
  const tokens: string[] = []
  let minExp = Infinity
  for (let index = start; index < start + count; index++) {
    const iat = Math.floor(Date.now() / 1000)
    const exp = iat + material.ttlSec
    minExp = Math.min(minExp, exp)
    const claims = base64urlJson({
      iss: material.issuer,
      aud: material.audience,
      iat,
      exp,
      jti: randomBytes(16).toString('base64url'),
      webhook_id: webhookIdOf(index),
      body_sha256: createHash('sha256').update(webhookBodyOf(index)).digest('base64url')
    })
    const signingInput = `${header}.${claims}`
    tokens.push(`${signingInput}.${signJws(Buffer.from(signingInput)).toString('base64url')}`)
  }
  const offsets = new Uint32Array(count + 1)
  for (let i = 0; i < count; i++) offsets[i + 1] = (offsets[i] as number) + (tokens[i] as string).length
  return { start, count, bytes: Buffer.from(tokens.join(''), 'latin1'), offsets, minExp }
}
