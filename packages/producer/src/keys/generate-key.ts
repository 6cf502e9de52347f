import { generateKeyPair as generateKeyPairCallback, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import type { JWK } from 'jose'
import { keyIdOf, toPublishedJwk, type PublishedJwk, type SigningAlgorithm } from '@webhook-jwt/protocol'

const generateKeyPair = promisify(generateKeyPairCallback)

/** A signing key in memory. */
export interface KeyMaterial {
  kid: string
  alg: SigningAlgorithm
  publicJwk: PublishedJwk
  privateJwk: JWK
  privateKey: KeyObject
}

async function newPair (algorithm: SigningAlgorithm, rsaModulusLength: number): Promise<{ privateKey: KeyObject }> {
  switch (algorithm) {
    case 'ES256': return await generateKeyPair('ec', { namedCurve: 'P-256' })
    case 'ES384': return await generateKeyPair('ec', { namedCurve: 'P-384' })
    case 'EdDSA': return await generateKeyPair('ed25519')
    case 'RS256':
    case 'PS256': return await generateKeyPair('rsa', { modulusLength: rsaModulusLength, publicExponent: 0x10001 })
  }
}

/**
 * Generates a key pair for `algorithm`, named by its RFC 7638 thumbprint. RSA keys are generated off the
 * event loop (node:crypto's async generator), since a 2048-bit key takes tens of milliseconds.
 */
export async function generateSigningKey (algorithm: SigningAlgorithm, rsaModulusLength: number): Promise<KeyMaterial> {
  const { privateKey } = await newPair(algorithm, rsaModulusLength)
  const privateJwk = privateKey.export({ format: 'jwk' }) as JWK
  const kid = await keyIdOf(privateJwk)
  return { kid, alg: algorithm, publicJwk: toPublishedJwk(privateJwk, { kid, alg: algorithm }), privateJwk, privateKey }
}
