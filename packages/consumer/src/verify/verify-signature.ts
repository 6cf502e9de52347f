import { constants, verify, type KeyObject, type VerifyKeyObjectInput, type VerifyPublicKeyInput } from 'node:crypto'
import type { SigningAlgorithm } from '@webhook-jwt/protocol'
import { reject } from '../errors.ts'
import type { VerificationKey } from '../key-set/key-set-document.ts'

/** The digest each algorithm signs (RFC 7518 §3; Ed25519 hashes internally). */
const DIGESTS: Readonly<Record<SigningAlgorithm, string | null>> = { ES256: 'sha256', ES384: 'sha384', EdDSA: null, RS256: 'sha256', PS256: 'sha256' }

/** How each algorithm's signature is read: JWS ECDSA signatures are R‖S (IEEE P1363), PS256 salts with 32 bytes (RFC 7518 §3.5). */
function keyInput (key: KeyObject, alg: SigningAlgorithm): KeyObject | VerifyKeyObjectInput | VerifyPublicKeyInput {
  if (alg === 'ES256' || alg === 'ES384') return { key, dsaEncoding: 'ieee-p1363' }
  if (alg === 'PS256') return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
  return key
}

/**
 * Checks the signature of `compact` with `key` under `alg`. The algorithm must be one the key is for (a
 * P-256 key never verifies RS256, an RSA key never HS256), so `alg` from the token can only pick among
 * what the key set and the allowlist already permit. The key is the KeyObject built when the set was
 * checked, so members such as `key_ops` cannot make a valid key unusable here.
 *
 * Everything else about the token is checked before (format, header, claims), so this is the signature
 * alone, with `node:crypto` on the cached KeyObject, off the main thread: the same OpenSSL check jose makes
 * through WebCrypto, without importing the key into WebCrypto on every request. The differential test
 * (`signature-differential.test.ts`) holds it to jose's answers.
 */
export async function verifySignature (compact: string, key: VerificationKey, alg: SigningAlgorithm): Promise<void> {
  if (!key.algorithms.has(alg)) reject('WEBHOOK_SIGNATURE_INVALID')
  const dot = compact.lastIndexOf('.')
  // The format check allows only base64url characters and dots: the signing input is ASCII.
  const signingInput = Buffer.from(compact.slice(0, dot), 'latin1')
  const signature = Buffer.from(compact.slice(dot + 1), 'base64url')
  const valid = await new Promise<boolean>((resolve) => {
    verify(DIGESTS[alg], signingInput, keyInput(key.keyObject, alg), signature, (error, ok) => { resolve(error === null && ok) })
  })
  if (!valid) reject('WEBHOOK_SIGNATURE_INVALID')
}
