import { compactVerify, importJWK, type CryptoKey } from 'jose'
import type { SigningAlgorithm } from '@webhook-jwt/protocol'
import { reject } from '../errors.ts'
import type { VerificationKey } from '../key-set/key-set-document.ts'

// WebCrypto keys are bound to one algorithm: each key is imported once per algorithm it is used with,
// and kept for as long as its key set is.
const imported = new WeakMap<VerificationKey, Map<SigningAlgorithm, Promise<CryptoKey>>>()

async function cryptoKeyFor (key: VerificationKey, alg: SigningAlgorithm): Promise<CryptoKey> {
  let byAlgorithm = imported.get(key)
  if (byAlgorithm === undefined) {
    byAlgorithm = new Map()
    imported.set(key, byAlgorithm)
  }
  let cryptoKey = byAlgorithm.get(alg)
  if (cryptoKey === undefined) {
    cryptoKey = importJWK(key.jwk, alg) as Promise<CryptoKey>
    byAlgorithm.set(alg, cryptoKey)
  }
  return await cryptoKey
}

/**
 * Checks the signature of `compact` with `key` under `alg`. The algorithm must be one the key is for (a
 * P-256 key never verifies RS256, an RSA key never HS256), so `alg` from the token can only pick among
 * what the key set and the allowlist already permit.
 */
export async function verifySignature (compact: string, key: VerificationKey, alg: SigningAlgorithm): Promise<void> {
  if (!key.algorithms.has(alg)) reject('WEBHOOK_SIGNATURE_INVALID')
  try {
    await compactVerify(compact, await cryptoKeyFor(key, alg), { algorithms: [alg] })
  } catch {
    reject('WEBHOOK_SIGNATURE_INVALID')
  }
}
