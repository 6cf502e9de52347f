import type { SigningAlgorithm } from '@webhook-jwt/protocol'
import { compactVerify } from 'jose'
import { reject } from '../errors.ts'
import type { VerificationKey } from '../key-set/key-set-document.ts'

/**
 * Checks the signature of `compact` with `key` under `alg`. The algorithm must be one the key is for (a
 * P-256 key never verifies RS256, an RSA key never HS256), so `alg` from the token can only pick among
 * what the key set and the allowlist already permit. The key is the KeyObject built when the set was
 * checked, so members such as `key_ops` cannot make a valid key unusable here.
 */
export async function verifySignature (compact: string, key: VerificationKey, alg: SigningAlgorithm): Promise<void> {
  if (!key.algorithms.has(alg)) reject('WEBHOOK_SIGNATURE_INVALID')
  try {
    await compactVerify(compact, key.keyObject, { algorithms: [alg] })
  } catch {
    reject('WEBHOOK_SIGNATURE_INVALID')
  }
}
