import { RECEIVER_ERRORS, bodyDigest, digestsMatch, type ReceiverError, type ReceiverErrorCode, type SigningAlgorithm } from '@webhook-jwt/protocol'
import type { WebhookVerificationError } from '../errors.ts'
import { RemoteKeySet, type KeySetStatus } from '../key-set/remote-key-set.ts'
import type { VerificationKey } from '../key-set/key-set-document.ts'
import { readConsumerOptions, type WebhookConsumerOptions } from '../options.ts'
import { TOKEN_CHECKS, type TokenCheckName } from '../token/check-claims.ts'
import { parseCompactJws, type ParsedToken } from '../token/compact-jws.ts'
import { verifySignature } from './verify-signature.ts'
import { latestSigningTime } from './verify-token.ts'

/** A check of `explainWebhook`, in the order the consumer applies them. */
export type WebhookCheckName = 'format' | TokenCheckName | 'key' | 'signature' | 'body-digest' | 'replay'

/** How one check went: `skipped` when an earlier failure or a missing input leaves it nothing to check. */
export interface WebhookCheck {
  name: WebhookCheckName
  outcome: 'passed' | 'failed' | 'skipped'
  /** The code the consumer answers when this check fails. */
  code?: ReceiverErrorCode
  /** Why it failed or was skipped, in words. */
  reason?: string
  /** For a failure answered 503: the seconds the consumer tells the sender to wait. */
  retryAfter?: number
}

/** What `explainWebhook` found. */
export interface WebhookExplanation {
  /** The decoded header and claims; `null` when the token cannot be decoded. */
  header: Record<string, unknown> | null
  claims: Record<string, unknown> | null
  /** Every check, in the consumer's order; the consumer stops at the first failure, this runs all it can. */
  checks: WebhookCheck[]
  /** The issuer's key set as fetched for the `key` check; `null` when it was not fetched. */
  keySet: KeySetStatus | null
  /**
   * What a consumer with these options answers: 200, or the first failing check's status and code. The
   * replay check is not run (it needs the receiver's own replay store), so 200 means "accepted the first time".
   * The key set is fetched now, as a consumer does for a kid it does not know: a running consumer that fetched
   * less than `jwks.cooldown` ago answers a recent token with an unknown kid 503 `WEBHOOK_KEY_UNAVAILABLE`
   * until its cooldown lets it fetch, then the same 401 `WEBHOOK_KEY_UNKNOWN` as here.
   */
  verdict: { status: 200 | ReceiverError['status'], code: ReceiverErrorCode | null, retryAfter: number | null }
}

/** The input of `explainWebhook`: the compact token, and the request body if it should be checked. */
export interface WebhookToExplain {
  token: string
  /** The exact body bytes; omitted, the body-digest check is skipped. */
  body?: Uint8Array | string
}

// Every check throws only coded verification errors (`reject`): the stages are the consumer's, which answers them all.
function failed (name: WebhookCheckName, thrown: unknown, reason?: string): WebhookCheck {
  const error = thrown as WebhookVerificationError
  return {
    name,
    outcome: 'failed',
    code: error.code,
    ...(reason === undefined ? {} : { reason }),
    ...(error.statusCode === 503 ? { retryAfter: error.retryAfter } : {})
  }
}

function skipped (name: WebhookCheckName, reason: string): WebhookCheck {
  return { name, outcome: 'skipped', reason }
}

/**
 * Runs the consumer's own checks on a token, with the consumer's options, and says how each went: the
 * format, every header and claim rule, the key lookup in the issuer's JWKS (fetched once, with the same
 * cache code and limits), the signature and, given the body, its digest. Unlike the consumer, it does not
 * stop at the first failure: every check whose inputs are there runs, so an operator sees all that is wrong.
 * The verdict is what the consumer answers, which is the first failure in this order. Nothing is remembered:
 * the replay check is reported as skipped.
 *
 * @example
 * const { checks, verdict } = await explainWebhook({ token, body }, { issuer, jwksUrl, audience })
 * for (const check of checks) console.log(check.name, check.outcome, check.code ?? '')
 */
export async function explainWebhook (webhook: WebhookToExplain, options: WebhookConsumerOptions): Promise<WebhookExplanation> {
  const settings = readConsumerOptions(options)
  const checks: WebhookCheck[] = []
  let parsed: ParsedToken
  try {
    parsed = parseCompactJws(webhook.token, settings.maxTokenBytes)
    checks.push({ name: 'format', outcome: 'passed' })
  } catch (error) {
    checks.push(failed('format', error))
    for (const name of [...TOKEN_CHECKS.map((check) => check.name), 'key', 'signature', 'body-digest', 'replay'] as const) {
      checks.push(skipped(name, 'the token cannot be decoded'))
    }
    return { header: null, claims: null, checks, keySet: null, verdict: verdictOf(checks) }
  }
  const { header, claims } = parsed
  const nowSec = settings.clock.now() / 1000
  const outcomes = new Map<WebhookCheckName, WebhookCheck>()
  for (const check of TOKEN_CHECKS) {
    let outcome: WebhookCheck = { name: check.name, outcome: 'passed' }
    try {
      check.run(header, claims, settings, nowSec)
    } catch (error) {
      outcome = failed(check.name, error)
    }
    outcomes.set(check.name, outcome)
    checks.push(outcome)
  }
  const passed = (name: WebhookCheckName): boolean => outcomes.get(name)?.outcome === 'passed'

  let key: VerificationKey | null = null
  let keySet: KeySetStatus | null = null
  const issuer = typeof claims.iss === 'string' ? settings.issuers.get(claims.iss) : undefined
  if (issuer === undefined) {
    checks.push(skipped('key', 'the token names no configured issuer, so there is no key set to look in'))
  } else if (!passed('kid')) {
    checks.push(skipped('key', 'the token names no key'))
  } else {
    const remote = new RemoteKeySet(issuer, settings.jwks, settings.clock, () => {})
    try {
      const signedBy = passed('times') ? latestSigningTime(claims.iat as number, settings.clockToleranceSec) : Infinity
      key = await remote.keyFor(header.kid as string, signedBy)
      checks.push({ name: 'key', outcome: 'passed' })
    } catch (error) {
      const status = remote.status()
      checks.push(failed('key', error, status.lastError ?? `the key set lists ${status.kids.length === 0 ? 'no kids' : `only ${status.kids.join(', ')}`}`))
    } finally {
      keySet = remote.status()
      remote.close()
    }
  }

  if (key === null) {
    checks.push(skipped('signature', 'there is no key to check it with'))
  } else {
    try {
      await verifySignature(webhook.token, key, header.alg as SigningAlgorithm)
      checks.push({ name: 'signature', outcome: 'passed' })
    } catch (error) {
      checks.push(failed('signature', error, key.algorithms.has(header.alg as SigningAlgorithm) ? undefined : `the key is for ${[...key.algorithms].join(', ')}, not ${String(header.alg)}`))
    }
  }

  checks.push(checkBody(webhook.body, claims.body_sha256, passed('body-digest-claim')))
  checks.push(skipped('replay', 'it needs the receiver\'s replay store: a token is accepted once, and refused as WEBHOOK_REPLAYED after'))
  return { header, claims, checks, keySet, verdict: verdictOf(checks) }
}

function checkBody (body: Uint8Array | string | undefined, digest: unknown, claimValid: boolean): WebhookCheck {
  if (!claimValid) return skipped('body-digest', 'the body_sha256 claim is missing or malformed')
  if (digest === undefined) return skipped('body-digest', 'the token carries no body_sha256 (allowed by bodyDigest: \'optional\')')
  if (body === undefined) return skipped('body-digest', 'no body was given to compare with body_sha256')
  const actual = bodyDigest(body)
  if (digestsMatch(actual, digest as string)) return { name: 'body-digest', outcome: 'passed' }
  return { name: 'body-digest', outcome: 'failed', code: 'WEBHOOK_BODY_DIGEST_MISMATCH', reason: `the body's SHA-256 is ${actual}` }
}

function verdictOf (checks: readonly WebhookCheck[]): WebhookExplanation['verdict'] {
  const first = checks.find((check) => check.outcome === 'failed')
  if (first === undefined) return { status: 200, code: null, retryAfter: null }
  const code = first.code as ReceiverErrorCode
  return { status: RECEIVER_ERRORS[code].status, code, retryAfter: first.retryAfter ?? null }
}
