import { generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint, type JWK } from 'jose'
import type { SigningAlgorithm } from '@webhook-jwt/protocol'

/** A sender's key for one algorithm, made with node:crypto, independently of the packages under test. */
export interface TestKey {
  algorithm: SigningAlgorithm
  /** The RFC 7638 thumbprint of the public key, as the protocol requires. */
  kid: string
  privateKey: KeyObject
  publicKey: KeyObject
  /** The private key as a JWK, to hand to token-signing workers. */
  privateJwk: JsonWebKey
  /** The key as the JWKS publishes it. */
  publishedJwk: JWK
}

function keyPairFor (algorithm: SigningAlgorithm): { privateKey: KeyObject, publicKey: KeyObject } {
  switch (algorithm) {
    case 'ES256': return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    case 'ES384': return generateKeyPairSync('ec', { namedCurve: 'P-384' })
    case 'EdDSA': return generateKeyPairSync('ed25519')
    case 'RS256':
    case 'PS256': return generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 })
  }
}

export async function generateTestKey (algorithm: SigningAlgorithm): Promise<TestKey> {
  const { privateKey, publicKey } = keyPairFor(algorithm)
  const publicJwk = publicKey.export({ format: 'jwk' }) as JWK
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256')
  return {
    algorithm,
    kid,
    privateKey,
    publicKey,
    privateJwk: privateKey.export({ format: 'jwk' }),
    publishedJwk: { ...publicJwk, kid, alg: algorithm, use: 'sig' }
  }
}
