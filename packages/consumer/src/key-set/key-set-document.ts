import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import type { JWK } from 'jose'
import { MIN_RSA_MODULUS_BITS, RSA_PUBLIC_EXPONENT, algorithmsForKey, keyIdOf, type SigningAlgorithm } from '@webhook-jwt/protocol'
import { hasRocaFingerprint } from './roca.ts'

/** A key set was refused whole; the previous good set stays in use. */
export class KeySetRefusedError extends Error {}

/** A key fit for verification: its public JWK, the algorithms it may verify, and imported forms. */
export interface VerificationKey {
  kid: string
  jwk: JWK
  algorithms: ReadonlySet<SigningAlgorithm>
  keyObject: KeyObject
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

/** A key published for another purpose (`use: enc`, `key_ops` without `verify`) is not used to verify. */
function isForVerification (jwk: Record<string, unknown>): boolean {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false
  return jwk.key_ops === undefined || (Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))
}

/**
 * Validates a fetched JWK Set and returns its usable keys by kid. A set that holds a private or symmetric
 * key, two keys with one kid, a key off its curve, a weak RSA key, a kid that is not its key's thumbprint
 * (when required), or more than `maxKeys` keys is refused whole: a publisher that gets one of these wrong
 * cannot be trusted with the rest. Keys of types or algorithms the protocol does not use are skipped.
 */
export async function readKeySetDocument (document: unknown, options: { maxKeys: number, requireThumbprintKids: boolean }): Promise<Map<string, VerificationKey>> {
  const keys = (document as { keys?: unknown } | null)?.keys
  if (typeof document !== 'object' || document === null || Array.isArray(document) || !Array.isArray(keys)) throw new KeySetRefusedError('it is not a JWK Set')
  if (keys.length > options.maxKeys) throw new KeySetRefusedError(`it has ${keys.length} keys, more than jwks.maxKeys (${options.maxKeys})`)
  const seen = new Set<string>()
  const usable = new Map<string, VerificationKey>()
  for (const [index, entry] of keys.entries()) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new KeySetRefusedError(`keys[${index}] is not a JWK`)
    const jwk = entry as Record<string, unknown>
    if (jwk.kty === 'oct') throw new KeySetRefusedError(`keys[${index}] is a symmetric key`)
    const privateMember = PRIVATE_MEMBERS.find((member) => member in jwk)
    if (privateMember !== undefined) throw new KeySetRefusedError(`keys[${index}] has the private member "${privateMember}"`)
    const kid = jwk.kid
    if (typeof kid !== 'string' || kid === '') continue
    if (seen.has(kid)) throw new KeySetRefusedError(`the kid ${JSON.stringify(kid)} names two keys`)
    seen.add(kid)
    let algorithms = algorithmsForKey(jwk)
    if (jwk.alg !== undefined) algorithms = algorithms.filter((algorithm) => algorithm === jwk.alg)
    if (algorithms.length === 0 || !isForVerification(jwk)) continue
    if (jwk.kty === 'RSA' && jwk.e !== RSA_PUBLIC_EXPONENT) throw new KeySetRefusedError(`keys[${index}] is an RSA key with an exponent other than 65537`)
    let keyObject: KeyObject
    try {
      keyObject = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
    } catch {
      throw new KeySetRefusedError(`keys[${index}] is not a valid public key (a point off its curve, or malformed)`)
    }
    if (jwk.kty === 'RSA' && (keyObject.asymmetricKeyDetails as { modulusLength: number }).modulusLength < MIN_RSA_MODULUS_BITS) {
      throw new KeySetRefusedError(`keys[${index}] is an RSA key under ${MIN_RSA_MODULUS_BITS} bits`)
    }
    if (jwk.kty === 'RSA' && hasRocaFingerprint(jwk.n as string)) throw new KeySetRefusedError(`keys[${index}] is an RSA key with the ROCA weakness (CVE-2017-15361)`)
    if (options.requireThumbprintKids && await keyIdOf(jwk) !== kid) throw new KeySetRefusedError(`the kid ${JSON.stringify(kid)} is not the RFC 7638 thumbprint of its key`)
    usable.set(kid, { kid, jwk: jwk as JWK, algorithms: new Set(algorithms), keyObject })
  }
  return usable
}
