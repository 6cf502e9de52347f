import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import type { JWK } from 'jose'
import { MIN_RSA_MODULUS_BITS, RSA_PUBLIC_EXPONENT, SIGNING_ALGORITHMS, algorithmsForKey, keyIdOf } from '@webhook-jwt/protocol'

/** One key of a set as the table shows it; `null` where the member is absent or not a string. */
export interface KeyRow {
  /** Its place in `keys`, from 0, as the consumer's messages name it (`keys[2]`). */
  index: number
  kid: string | null
  kty: string | null
  crv: string | null
  /** The RSA modulus size; `null` for other keys. */
  bits: number | null
  alg: string | null
  use: string | null
  /** The protocol's algorithms this key can verify, narrowed by its `alg`; empty when none. */
  algorithms: string[]
  /** Its RFC 7638 SHA-256 thumbprint; `null` when it has too few members to compute one. */
  thumbprint: string | null
  /** Whether its kid is its thumbprint, as the protocol's kids are and the consumer requires by default. */
  thumbprintKid: boolean
}

/** What can be wrong in a key set, as a stable name for scripts. */
export type KeySetProblemCode =
  | 'not-a-jwk' | 'symmetric-key' | 'private-key' | 'missing-kid' | 'duplicate-kid' | 'rsa-exponent' | 'weak-rsa'
  | 'unparseable-key' | 'unsupported-key' | 'not-for-signing' | 'kid-not-thumbprint'
  | 'too-many-keys' | 'too-large' | 'media-type' | 'no-usable-key' | 'refused'

/** One problem: the key it is about (`null` for the set as a whole), its code, and what it means, in words. */
export interface KeySetProblem {
  index: number | null
  problem: KeySetProblemCode
  message: string
}

/** Members only a private or secret key has: publishing one publishes the key. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

const stringOf = (value: unknown): string | null => typeof value === 'string' && value !== '' ? value : null

function publicKeyOf (jwk: Record<string, unknown>): KeyObject | null {
  try {
    return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
  } catch {
    return null
  }
}

/** Why a consumer would not verify with this key although it is well formed: published for another purpose. */
function otherPurpose (jwk: Record<string, unknown>): string | null {
  if (jwk.use !== undefined && jwk.use !== 'sig') return `use is ${JSON.stringify(jwk.use)}, not "sig"`
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return 'its key_ops do not include "verify"'
  return null
}

function describeType (jwk: Record<string, unknown>): string {
  return ['kty', 'crv', 'alg'].filter((member) => typeof jwk[member] === 'string').map((member) => `${member} ${jwk[member] as string}`).join(', ')
}

/** A key that is not an object: a row of nothing, and the problem. */
function notAJwk (index: number): { row: KeyRow, problems: KeySetProblem[] } {
  const row: KeyRow = { index, kid: null, kty: null, crv: null, bits: null, alg: null, use: null, algorithms: [], thumbprint: null, thumbprintKid: false }
  return { row, problems: [{ index, problem: 'not-a-jwk', message: 'is not a JWK (a JSON object): a consumer refuses the whole set' }] }
}

/**
 * Describes one entry of a key set and lists what is wrong with it on its own, saying for each what a
 * consumer does about it: refuse the whole set (private or symmetric key, weak RSA, a kid that is not its
 * thumbprint, a key it cannot read) or skip the key (no kid, another purpose, an algorithm the protocol does
 * not use). Problems between keys (two keys with one kid) are the set's to find.
 */
export async function inspectKey (entry: unknown, index: number): Promise<{ row: KeyRow, problems: KeySetProblem[] }> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return notAJwk(index)
  const jwk = entry as Record<string, unknown>
  const problems: KeySetProblem[] = []
  const problem = (code: KeySetProblemCode, message: string): void => { problems.push({ index, problem: code, message }) }
  const kid = stringOf(jwk.kid)
  const symmetric = jwk.kty === 'oct'
  let algorithms: string[] = algorithmsForKey(jwk)
  if (jwk.alg !== undefined) algorithms = algorithms.filter((algorithm) => algorithm === jwk.alg)
  // A secret key cannot be imported as a public one; what matters about it is that it is published at all.
  const publicKey = symmetric ? null : publicKeyOf(jwk)
  const bits = jwk.kty === 'RSA' ? (publicKey?.asymmetricKeyDetails?.modulusLength ?? null) : null
  const thumbprint = await keyIdOf(jwk as JWK).catch(() => null)

  if (symmetric) problem('symmetric-key', 'is a symmetric key (kty "oct"): its secret is published, and a consumer refuses the whole set')
  // A symmetric key's secret (k) is said above; any other key with one of these is a private key.
  const privateMembers = symmetric ? [] : PRIVATE_MEMBERS.filter((member) => member in jwk)
  if (privateMembers.length > 0) problem('private-key', `has the private member${privateMembers.length === 1 ? '' : 's'} ${privateMembers.join(', ')}: the private key is published, replace it; a consumer refuses the whole set`)
  if (kid === null) problem('missing-kid', 'has no kid: no token can name it, so a consumer skips it')
  if (!symmetric && algorithms.length === 0) problem('unsupported-key', `${describeType(jwk)} is for none of the protocol's algorithms (${SIGNING_ALGORITHMS.join(', ')}): a consumer skips it`)
  const purpose = otherPurpose(jwk)
  if (purpose !== null) problem('not-for-signing', `${purpose}: a consumer skips it`)
  if (jwk.kty === 'RSA' && jwk.e !== RSA_PUBLIC_EXPONENT) problem('rsa-exponent', 'is an RSA key with an exponent other than 65537: a consumer refuses the whole set')
  if (bits !== null && bits < MIN_RSA_MODULUS_BITS) problem('weak-rsa', `is an RSA key of ${bits} bits, under ${MIN_RSA_MODULUS_BITS}: a consumer refuses the whole set`)
  if (algorithms.length > 0 && publicKey === null) problem('unparseable-key', 'is not a valid public key (a point off its curve, or members missing or malformed)')
  if (kid !== null && thumbprint !== null && kid !== thumbprint) problem('kid-not-thumbprint', `its kid ${JSON.stringify(kid)} is not its RFC 7638 thumbprint ${thumbprint}: a consumer (which requires thumbprint kids by default) refuses the whole set`)

  const row: KeyRow = { index, kid, kty: stringOf(jwk.kty), crv: stringOf(jwk.crv), bits, alg: stringOf(jwk.alg), use: stringOf(jwk.use), algorithms, thumbprint, thumbprintKid: kid !== null && kid === thumbprint }
  return { row, problems }
}
