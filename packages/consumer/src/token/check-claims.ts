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

/** The names of the header and claim rules, in the order the consumer applies them. */
export type TokenCheckName = 'type' | 'critical' | 'algorithm' | 'kid' | 'issuer' | 'audience' | 'times' | 'expiry' | 'not-before' | 'lifetime' | 'ids' | 'body-digest-claim'

/** One rule of the protocol on a decoded token; `run` throws the rule's code when the token breaks it. */
export interface TokenCheck {
  name: TokenCheckName
  run: (header: Record<string, unknown>, claims: Record<string, unknown>, settings: ConsumerSettings, nowSec: number) => void
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
 * The header and claim rules of the protocol, cheapest first, before any key is fetched or signature checked:
 * exact `typ`, no `crit`, an allowed `alg`, a `kid`; a configured `iss`, our `aud`, finite `exp`/`iat` (and
 * `nbf` if present) within the tolerance, a lifetime within `maxTokenAge`, a `jti`, a `webhook_id`, and a
 * well-formed `body_sha256`. `jku`, `x5u`, `jwk` and `x5c` are never looked at. Each rule checks only its
 * own concern, so all of them can run on one token to explain it (`explainWebhook`); the consumer stops at
 * the first that fails.
 */
export const TOKEN_CHECKS: readonly TokenCheck[] = [
  {
    name: 'type',
    // RFC 7515 §4.1.9: a typ without '/' means the same with 'application/' in front, so both spellings are ours.
    run: (header) => { if (header.typ !== TOKEN_TYPE && header.typ !== `application/${TOKEN_TYPE}`) reject('WEBHOOK_TOKEN_TYPE_INVALID') }
  },
  {
    name: 'critical',
    // No extension is understood, so any `crit` must be refused (RFC 7515 §4.1.11); b64 only means anything with crit.
    run: (header) => { if (header.crit !== undefined || header.b64 !== undefined) reject('WEBHOOK_TOKEN_MALFORMED') }
  },
  {
    name: 'algorithm',
    run: (header, _claims, settings) => { if (!settings.algorithms.has(header.alg as SigningAlgorithm)) reject('WEBHOOK_ALGORITHM_NOT_ALLOWED') }
  },
  {
    name: 'kid',
    run: (header) => { if (!isId(header.kid)) reject('WEBHOOK_TOKEN_MALFORMED') }
  },
  {
    name: 'issuer',
    run: (_header, claims, settings) => {
      if (typeof claims.iss !== 'string') reject('WEBHOOK_CLAIMS_INVALID')
      if (!settings.issuers.has(claims.iss)) reject('WEBHOOK_ISSUER_INVALID')
    }
  },
  {
    name: 'audience',
    run: (_header, claims, settings) => { if (typeof claims.aud !== 'string' || !settings.audiences.has(claims.aud)) reject('WEBHOOK_AUDIENCE_INVALID') }
  },
  {
    name: 'times',
    run: (_header, { exp, iat, nbf }) => { if (!isTime(exp) || !isTime(iat) || (nbf !== undefined && !isTime(nbf)) || exp < iat) reject('WEBHOOK_CLAIMS_INVALID') }
  },
  {
    name: 'expiry',
    run: (_header, { exp }, settings, nowSec) => { if (isTime(exp) && exp <= nowSec - settings.clockToleranceSec) reject('WEBHOOK_TOKEN_EXPIRED') }
  },
  {
    name: 'not-before',
    run: (_header, { iat, nbf }, settings, nowSec) => {
      const latest = nowSec + settings.clockToleranceSec
      if ((isTime(iat) && iat > latest) || (isTime(nbf) && nbf > latest)) reject('WEBHOOK_TOKEN_NOT_YET_VALID')
    }
  },
  {
    name: 'lifetime',
    run: (_header, { exp, iat }, settings) => { if (isTime(exp) && isTime(iat) && exp - iat > settings.maxTokenAgeSec) reject('WEBHOOK_TOKEN_LIFETIME_TOO_LONG') }
  },
  {
    name: 'ids',
    run: (_header, claims) => { if (!isId(claims.jti) || !isId(claims.webhook_id)) reject('WEBHOOK_CLAIMS_INVALID') }
  },
  {
    name: 'body-digest-claim',
    run: (_header, { body_sha256: digest }, settings) => {
      if (digest === undefined ? settings.bodyDigest === 'required' : typeof digest !== 'string' || !DIGEST.test(digest)) reject('WEBHOOK_CLAIMS_INVALID')
    }
  }
]

/** The rules that depend on the time, to apply again when time has passed since `checkClaims`. */
const TIME_CHECKS = TOKEN_CHECKS.filter((check) => check.name === 'expiry' || check.name === 'not-before')

/**
 * Applies the time rules again (`expiry`, `not-before`) to claims `checkClaims` passed earlier: a body can
 * arrive long after its headers, and the token must still be valid when the request is accepted.
 */
export function recheckTimes (claims: Record<string, unknown>, settings: ConsumerSettings, nowSec: number): void {
  for (const check of TIME_CHECKS) check.run({}, claims, settings, nowSec)
}

/** Applies every rule of `TOKEN_CHECKS` in order, stopping at the first the token breaks. */
export function checkClaims (header: Record<string, unknown>, claims: Record<string, unknown>, settings: ConsumerSettings, nowSec: number): CheckedClaims {
  for (const check of TOKEN_CHECKS) check.run(header, claims, settings, nowSec)
  return {
    issuer: settings.issuers.get(claims.iss as string) as IssuerSettings,
    alg: header.alg as SigningAlgorithm,
    kid: header.kid as string,
    jti: claims.jti as string,
    webhookId: claims.webhook_id as string,
    exp: claims.exp as number,
    iat: claims.iat as number,
    bodySha256: claims.body_sha256 as string | undefined
  }
}
