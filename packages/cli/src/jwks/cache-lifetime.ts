import { JWKS_DEFAULTS, MIN_CACHE_AGE_MS } from '@webhook-jwt/consumer'
import type { CachingHeaders } from './fetch-key-set.ts'

/** How long a fetched key set may be reused, read from its headers as the consumer reads them. */
export interface CacheLifetime {
  /** `max-age` as sent, in seconds; `null` without one. */
  maxAgeSeconds: number | null
  /** `no-store` or `no-cache`: no verifier may reuse the set without asking again. */
  noStore: boolean
  /** The `Age` header in seconds: how long a cache between here and the origin held it; 0 if absent or invalid. */
  ageSeconds: number
  /** Seconds a verifier may still reuse it: max-age less Age (0 with no-store); `null` without max-age. */
  freshForSeconds: number | null
  /** Seconds `@webhook-jwt/consumer` with default options keeps it before fetching again. */
  consumerKeepsSeconds: number
}

// The same readings as the consumer's fetch (key-set/fetch-jwks.ts), so what is shown is what it does.
const NO_STORE = /(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)/i
const MAX_AGE = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?\s*(?:,|$)/i

/**
 * Reads `Cache-Control` and `Age`: what they allow any verifier, and what the consumer does with them
 * (the freshness, capped by `jwks.cacheMaxAge`, floored at `MIN_CACHE_AGE_MS`).
 */
export function cacheLifetime (headers: CachingHeaders): CacheLifetime {
  const cacheControl = headers.cacheControl ?? ''
  const noStore = NO_STORE.test(cacheControl)
  const maxAge = MAX_AGE.exec(cacheControl)?.[1]
  const maxAgeSeconds = maxAge === undefined ? null : Number(maxAge)
  // Age is a non-negative integer (RFC 9111 §5.1); anything else is ignored rather than trusted.
  const ageSeconds = /^\d+$/.test(headers.age ?? '') ? Number(headers.age) : 0
  const freshForSeconds = noStore ? 0 : maxAgeSeconds === null ? null : Math.max(0, maxAgeSeconds - ageSeconds)
  const consumerKeepsSeconds = Math.max(Math.min(freshForSeconds ?? Infinity, JWKS_DEFAULTS.cacheMaxAge), MIN_CACHE_AGE_MS / 1000)
  return { maxAgeSeconds, noStore, ageSeconds, freshForSeconds, consumerKeepsSeconds }
}
