import { formatDuration, TOKEN_TYPE } from '@webhook-jwt/protocol'
import type { WebhookCheck, WebhookExplanation } from '@webhook-jwt/consumer'
import { describeTime, relativeTime } from './relative-time.ts'

/** The consumer settings a verification ran with, as the operator gave them. */
export interface VerifySettings {
  issuer: string
  audiences: readonly string[]
  algorithms: readonly string[]
  clockToleranceSec: number
  maxTokenAgeSec: number
  jwksUrl: string
}

const show = (value: unknown): string => value === undefined ? 'missing' : typeof value === 'string' && value !== '' ? value : JSON.stringify(value)

/**
 * What each check looked at, in words: the values it compared for a pass, what was wrong for a failure.
 * The consumer says which check failed and with what code; this says why, from the token and the settings.
 */
export function checkDetail (check: WebhookCheck, explanation: WebhookExplanation, settings: VerifySettings, nowMs: number): string {
  if (check.outcome === 'skipped') return `skipped: ${check.reason as string}`
  // Null only when the format check failed, and then nothing below reads them.
  const header = explanation.header ?? {}
  const claims = explanation.claims ?? {}
  const ok = check.outcome === 'passed'
  const tolerance = `clock tolerance ${formatDuration(settings.clockToleranceSec)}`
  const { exp, iat } = claims as { exp: number, iat: number }
  switch (check.name) {
    case 'format':
      return ok ? 'three canonical base64url segments, JSON header and claims' : 'not a compact JWS in canonical base64url with JSON objects (webhook-jwt decode shows what is there)'
    case 'type':
      return ok ? `typ ${show(header.typ)}` : `typ ${show(header.typ)}, expected ${TOKEN_TYPE}`
    case 'critical':
      return ok ? 'no crit or b64 header' : 'the header has crit or b64: no JWS extension is understood'
    case 'algorithm':
      return ok ? `alg ${show(header.alg)}` : `alg ${show(header.alg)} is not among the allowed ${settings.algorithms.join(', ')}`
    case 'kid':
      return ok ? `kid ${show(header.kid)}` : `kid ${show(header.kid)}: a non-empty string of at most 256 characters is required`
    case 'issuer':
      return ok ? `iss ${show(claims.iss)}` : `iss ${show(claims.iss)} is not the configured issuer ${settings.issuer}`
    case 'audience':
      return ok ? `aud ${show(claims.aud)}` : `aud ${show(claims.aud)} is not ${settings.audiences.join(' or ')}`
    case 'times':
      return ok ? `iat ${describeTime(iat * 1000, nowMs)}, exp ${describeTime(exp * 1000, nowMs)}` : `iat ${show(claims.iat)}, exp ${show(claims.exp)}${claims.nbf === undefined ? '' : `, nbf ${show(claims.nbf)}`}: numbers are required, exp not before iat`
    case 'expiry':
      return ok ? `expires ${relativeTime(exp * 1000, nowMs)}` : `expired ${relativeTime(exp * 1000, nowMs)}, beyond the ${tolerance}`
    case 'not-before':
      return ok ? 'not issued in the future' : `issued ${relativeTime(Math.max(iat, Number(claims.nbf ?? -Infinity)) * 1000, nowMs)}, beyond the ${tolerance}: the sender's clock is ahead`
    case 'lifetime':
      return ok ? `lives ${formatDuration(exp - iat)}, at most ${formatDuration(settings.maxTokenAgeSec)}` : `lives ${formatDuration(exp - iat)}, longer than --max-token-age ${formatDuration(settings.maxTokenAgeSec)}`
    case 'ids':
      return ok ? `jti ${show(claims.jti)}, webhook_id ${show(claims.webhook_id)}` : `jti ${show(claims.jti)}, webhook_id ${show(claims.webhook_id)}: non-empty strings of at most 256 characters are required`
    case 'body-digest-claim':
      return ok ? (claims.body_sha256 === undefined ? 'no body_sha256 (allowed by --body-digest optional)' : `body_sha256 ${show(claims.body_sha256)}`) : claims.body_sha256 === undefined ? 'no body_sha256, and --body-digest is required' : `body_sha256 ${show(claims.body_sha256)} is not a SHA-256 in base64url (43 characters)`
    case 'key':
      return ok ? `kid ${show(header.kid)} is in the key set at ${settings.jwksUrl}` : `${check.reason as string} (JWKS ${settings.jwksUrl})${check.code === 'WEBHOOK_KEY_UNKNOWN' ? ': the key was revoked or retired, or is not this sender\'s' : ''}`
    case 'signature':
      return ok ? `${show(header.alg)} signature verifies with key ${show(header.kid)}` : check.reason ?? `does not verify with key ${show(header.kid)}: the token was altered, or signed by another key`
    case 'body-digest':
      return ok ? 'the body\'s SHA-256 matches body_sha256' : `${check.reason as string}, the token says ${show(claims.body_sha256)}: the body was altered, or is not the one signed`
    /* c8 ignore next 2 -- the replay check is never run (explainWebhook skips it), and skips return above */
    default:
      return check.outcome
  }
}
