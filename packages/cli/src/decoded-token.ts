import { DEFAULT_TOKEN_TTL, SIGNING_ALGORITHMS, TOKEN_TYPE, formatDuration } from '@webhook-jwt/protocol'
import { DEFAULT_MAX_TOKEN_BYTES, decodeWebhookToken } from '@webhook-jwt/consumer/token'
import { CliError } from './cli-error.ts'
import { relativeTime } from './relative-time.ts'

/** A token taken apart without verifying anything, and what looks wrong in it. */
export interface DecodedToken {
  header: Record<string, unknown>
  claims: Record<string, unknown>
  /** Bytes of the signature segment. */
  signatureBytes: number
  /** Things a consumer would refuse, or that an operator should know, in words. */
  warnings: string[]
}

const REQUIRED_CLAIMS = ['iss', 'aud', 'iat', 'exp', 'jti', 'webhook_id'] as const
/** Header members that point at keys elsewhere; the consumer never follows them (keys come from its configured JWKS). */
const KEY_POINTERS = ['jku', 'x5u', 'jwk', 'x5c'] as const

function decodeSegment (segment: string, name: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    throw new CliError('TOKEN_MALFORMED', `the ${name} segment of the token is not base64url-encoded JSON: is the token complete?`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError('TOKEN_MALFORMED', `the ${name} segment of the token is JSON but not an object`)
  return value as Record<string, unknown>
}

/**
 * Splits and decodes a compact JWS leniently, so even a token the consumer refuses can be read, then says
 * what a consumer would object to: the format (by the consumer's own parser), the header, the claims and the
 * times against `nowMs`.
 */
export function decodeToken (compact: string, nowMs: number): DecodedToken {
  const segments = compact.split('.')
  if (segments.length === 5) throw new CliError('TOKEN_MALFORMED', 'this is an encrypted token (JWE, five segments), not a signed webhook token (JWS, three segments)')
  if (segments.length !== 3) throw new CliError('TOKEN_MALFORMED', `a webhook token has three dot-separated segments; this has ${segments.length}: is it complete?`)
  const [headerSegment, claimsSegment, signature] = segments as [string, string, string]
  const header = decodeSegment(headerSegment, 'header')
  const claims = decodeSegment(claimsSegment, 'claims')
  const warnings: string[] = []
  try {
    decodeWebhookToken(compact, DEFAULT_MAX_TOKEN_BYTES)
  } catch {
    warnings.push(`not in the strict form a consumer accepts (canonical base64url, UTF-8 JSON objects without repeated members, at most ${DEFAULT_MAX_TOKEN_BYTES} bytes): refused as WEBHOOK_TOKEN_MALFORMED`)
  }
  warnings.push(...headerWarnings(header), ...claimWarnings(claims, nowMs))
  return { header, claims, signatureBytes: Buffer.from(signature, 'base64url').length, warnings }
}

function headerWarnings (header: Record<string, unknown>): string[] {
  const warnings: string[] = []
  if (typeof header.kid !== 'string' || header.kid === '') warnings.push('no kid in the header: no key can be chosen for it, and a consumer refuses it as WEBHOOK_TOKEN_MALFORMED')
  if (header.typ !== TOKEN_TYPE && header.typ !== `application/${TOKEN_TYPE}`) {
    warnings.push(`typ is ${header.typ === undefined ? 'missing' : JSON.stringify(header.typ)}, not "${TOKEN_TYPE}": a consumer refuses it as WEBHOOK_TOKEN_TYPE_INVALID (it may be a token meant for something else)`)
  }
  if (!(SIGNING_ALGORITHMS as readonly unknown[]).includes(header.alg)) warnings.push(`alg ${JSON.stringify(header.alg)} is not one of the protocol's (${SIGNING_ALGORITHMS.join(', ')}): refused as WEBHOOK_ALGORITHM_NOT_ALLOWED`)
  if (header.crit !== undefined || header.b64 !== undefined) warnings.push('the header has crit or b64: no extension is understood, so a consumer refuses it as WEBHOOK_TOKEN_MALFORMED')
  const pointers = KEY_POINTERS.filter((member) => header[member] !== undefined)
  if (pointers.length > 0) warnings.push(`the header has ${pointers.join(', ')}: ignored, a consumer takes keys only from the JWKS URL it is configured with`)
  return warnings
}

function claimWarnings (claims: Record<string, unknown>, nowMs: number): string[] {
  const warnings: string[] = []
  const missing = REQUIRED_CLAIMS.filter((name) => claims[name] === undefined)
  if (missing.length > 0) warnings.push(`missing ${missing.join(', ')}: a consumer refuses it as WEBHOOK_CLAIMS_INVALID`)
  if (claims.body_sha256 === undefined) warnings.push('no body_sha256: the body is not signed, and a consumer with the default bodyDigest: \'required\' refuses it as WEBHOOK_CLAIMS_INVALID')
  const { exp, iat, nbf } = claims
  const nowSec = nowMs / 1000
  if (typeof exp === 'number' && exp <= nowSec) warnings.push(`expired ${relativeTime(exp * 1000, nowMs)}`)
  if (typeof iat === 'number' && iat > nowSec) warnings.push(`issued in the future (${relativeTime(iat * 1000, nowMs)}): the sender's clock is ahead, or this one is behind`)
  if (typeof nbf === 'number' && nbf > nowSec) warnings.push(`not valid before ${relativeTime(nbf * 1000, nowMs)}`)
  if (typeof exp === 'number' && typeof iat === 'number') {
    if (exp < iat) warnings.push('exp is before iat: refused as WEBHOOK_CLAIMS_INVALID')
    else if (exp - iat > DEFAULT_TOKEN_TTL) warnings.push(`lives ${formatDuration(exp - iat)}, longer than the protocol's default ${formatDuration(DEFAULT_TOKEN_TTL)}: consumers with the default maxTokenAge refuse it as WEBHOOK_TOKEN_LIFETIME_TOO_LONG`)
  }
  return warnings
}
