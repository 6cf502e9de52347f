import { createHash } from 'node:crypto'
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose'

/** A refused webhook: answer `status` with `{ code }` (and `Retry-After` on a 503). */
export class Refusal extends Error {
  constructor (readonly code: string, readonly status: 401 | 503 = 401) { super(code) }
}

export interface WebhookReceiver {
  issuer: string
  jwksUrl: URL
  audience: string | string[]
  algorithms?: string[]
  clockTolerance?: number
  maxTokenAge?: number
  /** Seconds since the epoch; for tests. */
  now?: () => number
}

const refuse = (code: string): never => { throw new Refusal(code) }

/** Maps jose's errors to the protocol's codes (docs/protocol.md §4). */
function codeOf (error: unknown): Refusal {
  if (error instanceof Refusal) return error
  if (error instanceof errors.JWTExpired) return new Refusal('WEBHOOK_TOKEN_EXPIRED')
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return new Refusal('WEBHOOK_AUDIENCE_INVALID')
    const failed: Record<string, string> = { iss: 'WEBHOOK_ISSUER_INVALID', nbf: 'WEBHOOK_TOKEN_NOT_YET_VALID' }
    return new Refusal((error.reason === 'check_failed' ? failed[error.claim] : undefined) ?? 'WEBHOOK_CLAIMS_INVALID')
  }
  if (error instanceof errors.JWKSNoMatchingKey) return new Refusal('WEBHOOK_KEY_UNKNOWN')
  if (error instanceof errors.JWSSignatureVerificationFailed) return new Refusal('WEBHOOK_SIGNATURE_INVALID')
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return new Refusal('WEBHOOK_TOKEN_MALFORMED')
  return new Refusal('WEBHOOK_KEY_UNAVAILABLE', 503) // the key set could not be fetched or read: the sender retries
}

/**
 * A webhook verifier on plain jose: the token from `Authorization`, jose's checks, and what the protocol adds to
 * them (exact typ, no crit, canonical base64url, the lifetime cap, the body digest over the exact bytes, each
 * jti once). Create it once: the JWKS cache lives in it.
 *
 * @example
 * const verify = webhookVerifier({ issuer, jwksUrl: new URL(jwksUrl), audience })
 * const claims = await verify(request.headers.authorization, rawBody) // throws a Refusal
 */
export function webhookVerifier (receiver: WebhookReceiver): (authorization: string | undefined, body: Uint8Array) => Promise<JWTPayload> {
  const { algorithms = ['ES256'], clockTolerance = 30, maxTokenAge = 300, now = () => Date.now() / 1000 } = receiver
  const keys = createRemoteJWKSet(receiver.jwksUrl, { cooldownDuration: 30_000, cacheMaxAge: 600_000 })
  const accepted = new Map<string, number>() // jti → until when; use a shared store (Redis) across replicas
  return async (authorization, body) => {
    if (authorization === undefined || authorization === '') refuse('WEBHOOK_TOKEN_MISSING')
    const token = /^Bearer +([^ ]+) *$/i.exec(authorization as string)?.[1] ?? ''
    const segments = token.split('.').map((part) => ({ part, bytes: Buffer.from(part, 'base64url') }))
    // jose decodes base64url leniently and drops a BOM; the protocol takes each segment in its one canonical form.
    if (token.length > 8192 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token) || segments.some(({ part, bytes }) => bytes.toString('base64url') !== part || bytes[0] === 0xef)) refuse('WEBHOOK_TOKEN_MALFORMED')
    try {
      const header = (() => { try { return decodeProtectedHeader(token) } catch { return refuse('WEBHOOK_TOKEN_MALFORMED') } })()
      // jose compares typ case-insensitively; the protocol, exactly.
      if (header.typ !== 'webhook+jwt' && header.typ !== 'application/webhook+jwt') refuse('WEBHOOK_TOKEN_TYPE_INVALID')
      if (header.crit !== undefined || header.b64 !== undefined) refuse('WEBHOOK_TOKEN_MALFORMED')
      if (!algorithms.includes(header.alg as string)) refuse('WEBHOOK_ALGORITHM_NOT_ALLOWED')
      if (typeof header.kid !== 'string' || header.kid === '') refuse('WEBHOOK_TOKEN_MALFORMED')
      const { payload } = await jwtVerify(token, keys, {
        issuer: receiver.issuer,
        audience: receiver.audience,
        algorithms,
        clockTolerance,
        currentDate: new Date(now() * 1000),
        requiredClaims: ['exp', 'iat', 'jti', 'webhook_id', 'body_sha256']
      })
      const { aud, exp, iat, jti, webhook_id: webhookId, body_sha256: digest } = payload as JWTPayload & Record<string, unknown>
      if (typeof aud !== 'string') refuse('WEBHOOK_AUDIENCE_INVALID') // jose also accepts a list
      if (!Number.isFinite(exp) || !Number.isFinite(iat) || (exp as number) < (iat as number)) refuse('WEBHOOK_CLAIMS_INVALID')
      if ((iat as number) > now() + clockTolerance) refuse('WEBHOOK_TOKEN_NOT_YET_VALID')
      // jose's maxTokenAge bounds now − iat; the protocol caps the lifetime, exp − iat.
      if ((exp as number) - (iat as number) > maxTokenAge) refuse('WEBHOOK_TOKEN_LIFETIME_TOO_LONG')
      if (typeof jti !== 'string' || jti === '' || typeof webhookId !== 'string' || webhookId === '' || typeof digest !== 'string' || !/^[\w-]{43}$/.test(digest)) refuse('WEBHOOK_CLAIMS_INVALID')
      if (createHash('sha256').update(body).digest('base64url') !== digest) refuse('WEBHOOK_BODY_DIGEST_MISMATCH')
      for (const [seen, until] of accepted) if (until < now()) accepted.delete(seen)
      if (accepted.has(jti as string)) refuse('WEBHOOK_REPLAYED')
      accepted.set(jti as string, (exp as number) + clockTolerance)
      return payload
    } catch (error) {
      throw codeOf(error)
    }
  }
}
