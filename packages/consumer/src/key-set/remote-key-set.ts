import type { Clock } from '@webhook-jwt/protocol'
import { reject } from '../errors.ts'
import type { IssuerSettings, JwksSettings } from '../options.ts'
import { JwksFetchError, fetchJwks } from './fetch-jwks.ts'
import { KeySetRefusedError, readKeySetDocument, type VerificationKey } from './key-set-document.ts'

/** Why a fetch was made. */
export type FetchReason = 'startup' | 'expired' | 'refresh-ahead' | 'unknown-kid'

/** Reported for every key-set fetch, and for every unknown kid a cooldown kept from fetching. */
export interface KeySetFetchEvent {
  issuer: string
  url: string
  reason: FetchReason
  /** `fetched`, `failed` (unreachable, bad answer, or refused set), or `cooldown` (no fetch was made). */
  outcome: 'fetched' | 'failed' | 'cooldown'
  /** HTTP status, when there was an answer. */
  status?: number
  durationMs: number
  /** The kids of the set in use after this event. */
  kids: string[]
  /** Why it failed, in words safe for logs. */
  error?: string
  /** True while the set in use is past its freshness and kept only because its endpoint fails. */
  stale: boolean
}

/** One issuer's key set in `status()`. */
export interface KeySetStatus {
  issuer: string
  jwksUrl: string
  kids: string[]
  lastFetchAt: Date | null
  lastSuccessAt: Date | null
  expiresAt: Date | null
  /** Within its freshness lifetime. */
  fresh: boolean
  /** Past its freshness, still used because refreshing fails (within `jwks.maxStale`). */
  stale: boolean
  /** Able to verify known kids: fresh, or stale within `jwks.maxStale`. */
  usable: boolean
  lastError: string | null
}

/** A refresh starts once this share of the set's freshness lifetime has passed, so requests rarely wait. */
const REFRESH_AHEAD = 0.8
/** However short a sender's `max-age`, a set is kept at least this long: its endpoint is never hammered. */
export const MIN_CACHE_AGE_MS = 1000
/** Until a first key set has been fetched, a failed fetch is retried after 1 s, then 2 s, 4 s… up to the cooldown. */
export const FIRST_FETCH_BACKOFF_MS = 1000

/**
 * The cached key set of one issuer, created once per registration. One fetch at a time however many
 * requests wait on it; a background refresh before expiry; on an unknown kid, one refetch at most per
 * cooldown; after a failed fetch, no new attempt within the cooldown; when refreshing fails, the last good
 * set keeps verifying known kids for up to `maxStale` past its expiry.
 */
export class RemoteKeySet {
  readonly #issuer: IssuerSettings
  readonly #settings: JwksSettings
  readonly #clock: Clock
  readonly #report: (event: KeySetFetchEvent) => void
  #keys: Map<string, VerificationKey> | null = null
  #lastSuccessAt = -Infinity
  /** When the set in use was generated: its fetch started then, less the time a cache held it (`Age`). */
  #generatedAt = -Infinity
  #lastAttemptAt = -Infinity
  #failuresBeforeFirstSet = 0
  #expiresAt = -Infinity
  #lastError: string | null = null
  #inflight: Promise<void> | null = null
  readonly #closing = new AbortController()

  constructor (issuer: IssuerSettings, settings: JwksSettings, clock: Clock, report: (event: KeySetFetchEvent) => void) {
    this.#issuer = issuer
    this.#settings = settings
    this.#clock = clock
    this.#report = report
  }

  /**
   * The key for `kid`, fetching or refreshing the set as the rules allow. Throws a coded verification error.
   * `signedBy` is the latest time (ms, on our clock) the token can have been signed.
   */
  async keyFor (kid: string, signedBy: number): Promise<VerificationKey> {
    const now = this.#clock.now()
    if (now >= this.#expiresAt && this.#mayAttempt(now)) {
      await this.refresh(this.#keys === null ? 'startup' : 'expired')
      return this.#afterRefetch(kid)
    }
    if (now >= this.#refreshAt() && this.#mayAttempt(now)) this.refresh('refresh-ahead').catch(() => {})
    const key = this.#usableKeys(now).get(kid)
    if (key !== undefined) return key
    // A fetch already under way (a refresh ahead, or another request's refetch) may bring the kid: wait for it.
    if (this.#inflight !== null) {
      await this.#inflight
      return this.#afterRefetch(kid)
    }
    // An unknown kid may be a key published since the last fetch: fetch again, but once per cooldown only,
    // or anyone could make us fetch on every request by spraying random kids.
    const nextFetchAt = Math.max(this.#lastSuccessAt, this.#lastAttemptAt) + this.#settings.cooldownMs
    if (now < nextFetchAt) {
      // A sender publishes each key before signing with it (protocol §3), so a set generated after the token
      // was signed lists its key unless the key was revoked or never the sender's: the answer is final. Without
      // this, steady traffic that keeps the set fresh would keep the cooldown running, and a revoked kid would
      // get 503 until its tokens expire.
      if (this.#generatedAt > signedBy) return reject('WEBHOOK_KEY_UNKNOWN')
      this.#report({ ...this.#eventBase('unknown-kid', 0), outcome: 'cooldown' })
      return reject('WEBHOOK_KEY_UNAVAILABLE', (nextFetchAt - now) / 1000)
    }
    await this.refresh('unknown-kid')
    return this.#afterRefetch(kid)
  }

  /** Fetches the set now (single-flight). Never throws: failures are recorded, reported and logged. */
  async refresh (reason: FetchReason): Promise<void> {
    this.#inflight ??= this.#fetch(reason).finally(() => { this.#inflight = null })
    await this.#inflight
  }

  /** Aborts a fetch under way, so nothing outlives the app. */
  close (): void {
    this.#closing.abort()
  }

  /**
   * After a fetch this request made or waited for: the key; a 401 if the set just fetched lacks it (the
   * answer is final: asking again would fetch the same set); if the fetch failed, the key from the last good
   * set if it is still usable, else a 503.
   */
  #afterRefetch (kid: string): VerificationKey {
    if (this.#lastAttemptAt > this.#lastSuccessAt) {
      return this.#usableKeys(this.#clock.now()).get(kid) ?? reject('WEBHOOK_KEY_UNAVAILABLE', this.#settings.cooldownMs / 1000)
    }
    return (this.#keys as Map<string, VerificationKey>).get(kid) ?? reject('WEBHOOK_KEY_UNKNOWN')
  }

  status (): KeySetStatus {
    const now = this.#clock.now()
    const fresh = this.#keys !== null && now < this.#expiresAt
    const usable = this.#keys !== null && now < this.#expiresAt + this.#settings.maxStaleMs
    const time = (ms: number): Date | null => Number.isFinite(ms) ? new Date(ms) : null
    return {
      issuer: this.#issuer.issuer,
      jwksUrl: this.#issuer.jwksUrl.href,
      kids: [...(this.#keys?.keys() ?? [])],
      lastFetchAt: time(Math.max(this.#lastAttemptAt, this.#lastSuccessAt)),
      lastSuccessAt: time(this.#lastSuccessAt),
      expiresAt: time(this.#expiresAt),
      fresh,
      stale: usable && !fresh,
      usable,
      lastError: this.#lastError
    }
  }

  /** A fetch may start (or be joined) unless the last one failed less than a cooldown ago: the failure backoff. */
  #mayAttempt (now: number): boolean {
    return this.#inflight !== null || this.#lastAttemptAt <= this.#lastSuccessAt || now >= this.#lastAttemptAt + this.#failureBackoffMs()
  }

  /**
   * How long after a failed fetch the next may start. Before any set was fetched nothing can verify, so the
   * wait starts short and doubles up to the cooldown: a receiver started before its sender recovers within
   * seconds. Once a set is held, it serves known kids meanwhile, and the full cooldown applies.
   */
  #failureBackoffMs (): number {
    return this.#keys === null ? Math.min(this.#settings.cooldownMs, FIRST_FETCH_BACKOFF_MS * 2 ** (this.#failuresBeforeFirstSet - 1)) : this.#settings.cooldownMs
  }

  #refreshAt (): number {
    return this.#lastSuccessAt + (this.#expiresAt - this.#lastSuccessAt) * REFRESH_AHEAD
  }

  /** The keys that may be used now: the current set, or a stale one within maxStale. */
  #usableKeys (now: number): Map<string, VerificationKey> {
    if (this.#keys === null || now >= this.#expiresAt + this.#settings.maxStaleMs) {
      return reject('WEBHOOK_KEY_UNAVAILABLE', Math.max(0, this.#lastAttemptAt + this.#failureBackoffMs() - now) / 1000)
    }
    return this.#keys
  }

  #eventBase (reason: FetchReason, durationMs: number): Omit<KeySetFetchEvent, 'outcome'> {
    const now = this.#clock.now()
    return {
      issuer: this.#issuer.issuer,
      url: this.#issuer.jwksUrl.href,
      reason,
      durationMs,
      kids: [...(this.#keys?.keys() ?? [])],
      stale: this.#keys !== null && now >= this.#expiresAt
    }
  }

  async #fetch (reason: FetchReason): Promise<void> {
    const started = this.#clock.now()
    this.#lastAttemptAt = started
    let status: number | undefined
    try {
      const fetched = await fetchJwks(this.#issuer.jwksUrl, { ...this.#settings, closing: this.#closing.signal })
      status = 200
      const keys = await readKeySetDocument(fetched.document, this.#settings)
      const now = this.#clock.now()
      const lifetime = Math.max(Math.min((fetched.freshFor ?? Infinity) * 1000, this.#settings.cacheMaxAgeMs), MIN_CACHE_AGE_MS)
      this.#keys = keys
      this.#lastSuccessAt = now
      this.#generatedAt = started - fetched.ageSec * 1000
      this.#expiresAt = now + lifetime
      this.#lastError = null
      this.#report({ ...this.#eventBase(reason, now - started), outcome: 'fetched', status })
    } catch (error) {
      status = error instanceof JwksFetchError ? error.status : status
      const message = error instanceof KeySetRefusedError ? `key set refused: ${error.message}` : (error as Error).message
      this.#lastError = message
      this.#failuresBeforeFirstSet++
      const event = this.#eventBase(reason, this.#clock.now() - started)
      this.#report({ ...event, outcome: 'failed', error: message, ...(status === undefined ? {} : { status }) })
    }
  }
}
