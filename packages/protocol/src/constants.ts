/** The `typ` header every webhook token carries (RFC 8725 §3.11 explicit typing). */
export const TOKEN_TYPE = 'webhook+jwt'

/** The request header that carries `Bearer <token>` unless both sides configure another. */
export const DEFAULT_TOKEN_HEADER = 'authorization'

/** The request header that mirrors the signed `webhook_id` for receivers' logs. */
export const WEBHOOK_ID_HEADER = 'webhook-id'

/** Default token lifetime, in seconds: `exp` = `iat` + this. */
export const DEFAULT_TOKEN_TTL = 300

/** Bytes of randomness in every `jti` (128 bits). */
export const JTI_BYTES = 16

/** Media type of the JWKS document (RFC 7517 §8.5). */
export const JWKS_CONTENT_TYPE = 'application/jwk-set+json'

/** Where the producer serves its JWKS unless configured otherwise. */
export const DEFAULT_JWKS_PATH = '/.well-known/jwks.json'

/** Default `Cache-Control: max-age` of the JWKS, in seconds. */
export const DEFAULT_JWKS_MAX_AGE = 600

/** Default clock skew tolerated between producer and receivers, in seconds. */
export const DEFAULT_CLOCK_SKEW = 30
