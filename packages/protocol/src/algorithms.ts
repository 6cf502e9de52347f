/** The signature algorithms of the protocol. All are asymmetric: receivers never hold a signing secret. */
export const SIGNING_ALGORITHMS = ['ES256', 'EdDSA', 'ES384', 'RS256', 'PS256'] as const

export type SigningAlgorithm = typeof SIGNING_ALGORITHMS[number]

/** The protocol's default algorithm, and the consumer's default allowlist. */
export const DEFAULT_ALGORITHM: SigningAlgorithm = 'ES256'

/** The smallest RSA modulus either side accepts, in bits. */
export const MIN_RSA_MODULUS_BITS = 2048

/** The only RSA public exponent either side accepts (65537, base64url). */
export const RSA_PUBLIC_EXPONENT = 'AQAB'

/**
 * The protocol algorithms a JWK of this type and curve is for: `ES256` for P-256, `ES384` for P-384, `EdDSA`
 * for Ed25519, `RS256` and `PS256` for RSA; none for anything else.
 *
 * @example
 * algorithmsForKey({ kty: 'EC', crv: 'P-256', x, y }) // ['ES256']
 */
export function algorithmsForKey (jwk: { kty?: unknown, crv?: unknown }): SigningAlgorithm[] {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return ['ES256']
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') return ['ES384']
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return ['EdDSA']
  if (jwk.kty === 'RSA') return ['RS256', 'PS256']
  return []
}

/**
 * Tells whether `value` names one of the protocol's algorithms, exactly as spelt in a JWS header.
 *
 * @example
 * isSigningAlgorithm('ES256') // true
 * isSigningAlgorithm('es256') // false: JWS algorithm names are case-sensitive
 */
export function isSigningAlgorithm (value: unknown): value is SigningAlgorithm {
  return typeof value === 'string' && (SIGNING_ALGORITHMS as readonly string[]).includes(value)
}
