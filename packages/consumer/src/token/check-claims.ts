import { TOKEN_TYPE, type SigningAlgorithm } from '@webhook-jwt/protocol'
import { reject } from '../errors.ts'
import type { ConsumerSettings, IssuerSettings } from '../options.ts'

/** What the claims checks establish, for the later stages. */
export interface CheckedClaims {
  issuer: IssuerSettings
  alg: SigningAlgorithm
  kid: string
  jti: string
  webhookId: string
  exp: number
  iat: number
  bodySha256: string | undefined
}

const MAX_ID_LENGTH = 256
const DIGEST = /^[A-Za-z0-9_-]{43}$/

function isId (value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH
}

function isTime (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

/**
 * The header and claim rules of the protocol, on a decoded token, before any key is fetched or signature
 * checked: exact `typ`, no `crit`, an allowed `alg`, a `kid`; a configured `iss`, our `aud`, finite
 * `exp`/`iat` (and `nbf` if present) within the tolerance, a lifetime within `maxTokenAge`, a `jti`,
 * a `webhook_id`, and a well-formed `body_sha256`. `jku`, `x5u`, `jwk` and `x5c` are never looked at.
 */
export function checkClaims (header: Record<string, unknown>, claims: Record<string, unknown>, settings: ConsumerSettings, nowSec: number): CheckedClaims {
  // RFC 7515 §4.1.9: a typ without '/' means the same with 'application/' in front, so both spellings are ours.
  if (header.typ !== TOKEN_TYPE && header.typ !== `application/${TOKEN_TYPE}`) reject('WEBHOOK_TOKEN_TYPE_INVALID')
  // No extension is understood, so any `crit` must be refused (RFC 7515 §4.1.11); b64 only means anything with crit.
  if (header.crit !== undefined || header.b64 !== undefined) reject('WEBHOOK_TOKEN_MALFORMED')
  const alg = header.alg as SigningAlgorithm
  if (!settings.algorithms.has(alg)) reject('WEBHOOK_ALGORITHM_NOT_ALLOWED')
  if (!isId(header.kid)) reject('WEBHOOK_TOKEN_MALFORMED')

  if (typeof claims.iss !== 'string') reject('WEBHOOK_CLAIMS_INVALID')
  const issuer = settings.issuers.get(claims.iss) ?? reject('WEBHOOK_ISSUER_INVALID')
  if (typeof claims.aud !== 'string' || !settings.audiences.has(claims.aud)) reject('WEBHOOK_AUDIENCE_INVALID')

  const { exp, iat, nbf } = claims
  if (!isTime(exp) || !isTime(iat) || (nbf !== undefined && !isTime(nbf)) || exp < iat) reject('WEBHOOK_CLAIMS_INVALID')
  const tolerance = settings.clockToleranceSec
  if (exp <= nowSec - tolerance) reject('WEBHOOK_TOKEN_EXPIRED')
  if (iat > nowSec + tolerance || (nbf !== undefined && nbf > nowSec + tolerance)) reject('WEBHOOK_TOKEN_NOT_YET_VALID')
  if (exp - iat > settings.maxTokenAgeSec) reject('WEBHOOK_TOKEN_LIFETIME_TOO_LONG')

  if (!isId(claims.jti) || !isId(claims.webhook_id)) reject('WEBHOOK_CLAIMS_INVALID')
  const digest = claims.body_sha256
  if (digest === undefined ? settings.bodyDigest === 'required' : typeof digest !== 'string' || !DIGEST.test(digest)) reject('WEBHOOK_CLAIMS_INVALID')

  return { issuer, alg, kid: header.kid, jti: claims.jti, webhookId: claims.webhook_id, exp, iat, bodySha256: digest as string | undefined }
}
