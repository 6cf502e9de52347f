import type { RemoteKeySet } from '../key-set/remote-key-set.ts'
import type { ConsumerSettings } from '../options.ts'
import { parseCompactJws } from '../token/compact-jws.ts'
import { checkClaims, type CheckedClaims } from '../token/check-claims.ts'
import { reject } from '../errors.ts'
import { verifySignature } from './verify-signature.ts'

/** A token whose format, claims and signature are verified; the body digest and replay check remain. */
export interface VerifiedToken extends CheckedClaims {
  claims: Record<string, unknown>
}

const BEARER = /^Bearer +([^ ]+) *$/i

/**
 * The latest time (ms, on our clock) a token with this `iat` can have been signed: `iat` is whole seconds
 * rounded down, and the sender's clock may be ahead of ours by the tolerance.
 */
export function latestSigningTime (iatSec: number, clockToleranceSec: number): number {
  return (iatSec + 1 + clockToleranceSec) * 1000
}

/** The token from the configured header: `Bearer <token>` in `Authorization`, the bare token elsewhere. */
export function extractToken (value: string | undefined, header: string): string {
  if (value === undefined || value === '') return reject('WEBHOOK_TOKEN_MISSING')
  if (header !== 'authorization') return value
  return BEARER.exec(value)?.[1] ?? reject('WEBHOOK_TOKEN_MALFORMED')
}

/**
 * Everything that can be checked before the body arrives, cheapest first: format, header and claims,
 * then the key (which may mean a fetch), then the signature.
 */
export async function verifyToken (compact: string, settings: ConsumerSettings, keySets: ReadonlyMap<string, RemoteKeySet>): Promise<VerifiedToken> {
  const { header, claims } = parseCompactJws(compact, settings.maxTokenBytes)
  const checked = checkClaims(header, claims, settings, settings.clock.now() / 1000)
  const keySet = keySets.get(checked.issuer.issuer) as RemoteKeySet
  const key = await keySet.keyFor(checked.kid, latestSigningTime(checked.iat, settings.clockToleranceSec))
  await verifySignature(compact, key, checked.alg)
  return { ...checked, claims }
}
