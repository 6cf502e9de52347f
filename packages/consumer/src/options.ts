import {
  DEFAULT_ALGORITHM, DEFAULT_CLOCK_SKEW, DEFAULT_TOKEN_HEADER, DEFAULT_TOKEN_TTL, SIGNING_ALGORITHMS, WebhookOptionError,
  describeValue, isSigningAlgorithm, objectOption, parseDuration, positiveInteger, systemClock, type Clock, type Duration, type SigningAlgorithm
} from '@webhook-jwt/protocol'
import { memoryReplayStore, type ReplayStore } from './replay/replay-store.ts'
import { DEFAULT_DEDUPLICATE_WINDOW, DEFAULT_PROCESSING_TIMEOUT, type ForgettingStore } from './replay/duplicate-check.ts'

/** Defaults of the key-set cache, in seconds and bytes. */
export const JWKS_DEFAULTS = {
  /** Upper bound on how long a fetched key set is used; a shorter `Cache-Control: max-age` wins. */
  cacheMaxAge: 600,
  /** Lower bound between fetches: after a failed fetch, and before a refetch for an unknown `kid`. */
  cooldown: 30,
  /** Whole-fetch deadline, body included. */
  timeout: 5,
  /** How long past its expiry a key set keeps verifying known kids while its endpoint fails. */
  maxStale: 3600,
  maxBytes: 65536,
  maxKeys: 50
} as const

/** Compact tokens longer than this are refused before any decoding. */
export const DEFAULT_MAX_TOKEN_BYTES = 8192

/** One sender: the `iss` it signs with, and where its keys are. The URL is never taken from a token. */
export interface IssuerOptions {
  issuer: string
  jwksUrl: string | URL
}

/** Options of `@webhook-jwt/consumer`. Every duration is in seconds, or a string such as `'10m'`. */
export interface WebhookConsumerOptions {
  /** The senders to accept, each with its JWKS URL. Or use the `issuer` + `jwksUrl` shorthand for one. */
  issuers?: IssuerOptions[]
  /** Shorthand for a single sender. */
  issuer?: string
  jwksUrl?: string | URL
  /** What `aud` must be: this endpoint's URL or the audience senders are told to use. Required. */
  audience: string | string[]
  /** Accepted signature algorithms. Default `['ES256']`. Asymmetric only. */
  algorithms?: SigningAlgorithm[]
  /** The request header that carries the token. Default `'authorization'` (as `Bearer <token>`). */
  header?: string
  /** Clock difference tolerated on `exp`, `iat` and `nbf`. Default 30. */
  clockTolerance?: Duration
  /** Longest token lifetime accepted (`exp - iat`). Default 300, the protocol's token lifetime. */
  maxTokenAge?: Duration
  /** Longest compact token accepted, in bytes. Default 8192. */
  maxTokenBytes?: number
  /** `'required'` (default): every token carries `body_sha256` and it matches. `'optional'`: checked when present. */
  bodyDigest?: 'required' | 'optional'
  /** Where accepted `jti`s are remembered until their token expires. Default: `memoryReplayStore()`. */
  replayStore?: ReplayStore
  /**
   * What to do when the replay store (or the `deduplicate` store) fails or times out. `'reject'` (default):
   * fail closed, answer `503 WEBHOOK_REPLAY_STORE_UNAVAILABLE` with `Retry-After`, so the sender retries.
   * `'accept'`: fail open, accept the webhook without the check (a captured token can then be replayed, and a
   * repeated `webhook_id` reaches the handler), with an error log line per such request naming its `jti` and
   * `webhook_id`, and a warning at registration.
   */
  replayStoreFailure?: 'reject' | 'accept'
  /**
   * Answer a repeat of a `webhook_id` already handled (2xx) with `200 { duplicate: true }` instead of calling
   * the handler again. `window`: how long a handled id is remembered (default 4 days); `processingTimeout`:
   * how long a delivery being handled holds its id (default 60 s); `store`: where ids are kept (default a
   * `memoryReplayStore()` of its own; it must have `forget()`). Default `false`.
   */
  deduplicate?: boolean | { window?: Duration, processingTimeout?: Duration, store?: ReplayStore }
  jwks?: {
    cacheMaxAge?: Duration
    cooldown?: Duration
    timeout?: Duration
    maxStale?: Duration
    maxBytes?: number
    maxKeys?: number
    /** Refuse a key set whose `kid`s are not the RFC 7638 thumbprints of their keys, as the protocol requires. Default true. */
    requireThumbprintKids?: boolean
  }
  /** Time source, for tests and simulations. Default: the system clock. */
  clock?: Clock
}

export interface IssuerSettings {
  issuer: string
  jwksUrl: URL
}

export interface JwksSettings {
  cacheMaxAgeMs: number
  cooldownMs: number
  timeoutMs: number
  maxStaleMs: number
  maxBytes: number
  maxKeys: number
  requireThumbprintKids: boolean
}

export interface ConsumerSettings {
  issuers: Map<string, IssuerSettings>
  audiences: ReadonlySet<string>
  algorithms: ReadonlySet<SigningAlgorithm>
  header: string
  clockToleranceSec: number
  maxTokenAgeSec: number
  maxTokenBytes: number
  bodyDigest: 'required' | 'optional'
  replayStore: ReplayStore
  replayStoreFailure: 'reject' | 'accept'
  /** The duplicate check on `webhook_id`; `null` when off. */
  deduplicate: { store: ForgettingStore, windowSec: number, processingSec: number } | null
  jwks: JwksSettings
  clock: Clock
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

function readUrl (value: unknown, option: string): URL {
  let url: URL | undefined
  try {
    url = new URL(value as string)
  } catch {}
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new WebhookOptionError(option, `must be an http(s) URL (got ${describeValue(value instanceof URL ? value.href : value)})`)
  }
  return url
}

function readIssuers (raw: Partial<WebhookConsumerOptions>): Map<string, IssuerSettings> {
  const hasShorthand = raw.issuer !== undefined || raw.jwksUrl !== undefined
  if (hasShorthand && raw.issuers !== undefined) throw new WebhookOptionError('issuers', 'cannot be combined with the issuer + jwksUrl shorthand')
  const list: unknown = hasShorthand ? [{ issuer: raw.issuer, jwksUrl: raw.jwksUrl }] : raw.issuers
  if (!Array.isArray(list) || list.length === 0) {
    throw new WebhookOptionError('issuers', 'is required: a list of { issuer, jwksUrl }, or the issuer + jwksUrl shorthand for one sender')
  }
  const issuers = new Map<string, IssuerSettings>()
  list.forEach((entry: { issuer?: unknown, jwksUrl?: unknown } | undefined, index) => {
    const where = hasShorthand ? '' : `issuers[${index}].`
    if (typeof entry?.issuer !== 'string' || entry.issuer === '') throw new WebhookOptionError(`${where}issuer`, `must be the non-empty iss the sender signs with (got ${describeValue(entry?.issuer)})`)
    if (issuers.has(entry.issuer)) throw new WebhookOptionError(`${where}issuer`, `names ${JSON.stringify(entry.issuer)} twice`)
    issuers.set(entry.issuer, { issuer: entry.issuer, jwksUrl: readUrl(entry.jwksUrl, `${where}jwksUrl`) })
  })
  return issuers
}

/** Validates and normalises the options once, at registration; every message names the option. */
export function readConsumerOptions (options: WebhookConsumerOptions): ConsumerSettings {
  const raw = objectOption(options, 'options') as Partial<WebhookConsumerOptions>
  const issuers = readIssuers(raw)

  const audienceList = typeof raw.audience === 'string' ? [raw.audience] : raw.audience
  if (!Array.isArray(audienceList) || audienceList.length === 0 || audienceList.some((audience) => typeof audience !== 'string' || audience === '')) {
    throw new WebhookOptionError('audience', `is required: this endpoint's URL, or the audience senders sign for (got ${describeValue(raw.audience)})`)
  }

  const algorithmList = raw.algorithms ?? [DEFAULT_ALGORITHM]
  if (!Array.isArray(algorithmList) || algorithmList.length === 0 || !algorithmList.every(isSigningAlgorithm)) {
    throw new WebhookOptionError('algorithms', `must be a non-empty list of ${SIGNING_ALGORITHMS.join(', ')} (got ${describeValue(raw.algorithms)})`)
  }

  const header = raw.header ?? DEFAULT_TOKEN_HEADER
  if (typeof header !== 'string' || !HEADER_NAME.test(header)) {
    throw new WebhookOptionError('header', `must be a lower-case HTTP header name such as 'authorization' (got ${describeValue(header)})`)
  }

  const bodyDigest = raw.bodyDigest ?? 'required'
  if (bodyDigest !== 'required' && bodyDigest !== 'optional') throw new WebhookOptionError('bodyDigest', `must be 'required' or 'optional' (got ${describeValue(bodyDigest)})`)

  const replayStore = raw.replayStore ?? memoryReplayStore()
  if (typeof replayStore !== 'object' || replayStore === null || typeof replayStore.remember !== 'function') {
    throw new WebhookOptionError('replayStore', 'must be a replay store: an object with remember(key, expiresAtMs, nowMs), such as memoryReplayStore()')
  }

  const replayStoreFailure = raw.replayStoreFailure ?? 'reject'
  if (replayStoreFailure !== 'reject' && replayStoreFailure !== 'accept') {
    throw new WebhookOptionError('replayStoreFailure', `must be 'reject' (fail closed: 503, the default) or 'accept' (fail open: accept unchecked, and log) (got ${describeValue(replayStoreFailure)})`)
  }

  let deduplicate: ConsumerSettings['deduplicate'] = null
  if (raw.deduplicate !== undefined && raw.deduplicate !== false) {
    const options = raw.deduplicate === true ? {} : objectOption(raw.deduplicate, 'deduplicate')
    // Its own store by default: ids kept for days must not keep the replay check's short-lived jtis alive.
    const store = (options.store ?? memoryReplayStore()) as Partial<ForgettingStore>
    if (typeof store.remember !== 'function' || typeof store.forget !== 'function') {
      throw new WebhookOptionError('deduplicate.store', 'must be a replay store with remember() and forget(key), such as memoryReplayStore()')
    }
    deduplicate = {
      store: store as ForgettingStore,
      windowSec: parseDuration(options.window ?? DEFAULT_DEDUPLICATE_WINDOW, 'deduplicate.window'),
      processingSec: parseDuration(options.processingTimeout ?? DEFAULT_PROCESSING_TIMEOUT, 'deduplicate.processingTimeout')
    }
    // A claim kept for no time is refused by every store (an id expired when recorded): each delivery would be "in progress".
    if (deduplicate.processingSec === 0) throw new WebhookOptionError('deduplicate.processingTimeout', 'must be more than 0')
  }

  const jwks = objectOption(raw.jwks, 'jwks')
  const seconds = (name: keyof typeof JWKS_DEFAULTS): number => parseDuration(jwks[name] ?? JWKS_DEFAULTS[name], `jwks.${name}`) * 1000
  const requireThumbprintKids = jwks.requireThumbprintKids ?? true
  if (typeof requireThumbprintKids !== 'boolean') throw new WebhookOptionError('jwks.requireThumbprintKids', `must be a boolean (got ${describeValue(requireThumbprintKids)})`)
  const jwksSettings: JwksSettings = {
    cacheMaxAgeMs: seconds('cacheMaxAge'),
    cooldownMs: seconds('cooldown'),
    timeoutMs: seconds('timeout'),
    maxStaleMs: seconds('maxStale'),
    maxBytes: positiveInteger(jwks.maxBytes, JWKS_DEFAULTS.maxBytes, 'jwks.maxBytes'),
    maxKeys: positiveInteger(jwks.maxKeys, JWKS_DEFAULTS.maxKeys, 'jwks.maxKeys'),
    requireThumbprintKids
  }
  if (jwksSettings.timeoutMs === 0) throw new WebhookOptionError('jwks.timeout', 'must be more than 0')

  const clock = raw.clock ?? systemClock
  if (typeof clock?.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    throw new WebhookOptionError('clock', 'must have now(), setTimeout() and clearTimeout()')
  }

  return {
    issuers,
    audiences: new Set(audienceList),
    algorithms: new Set(algorithmList),
    header,
    clockToleranceSec: parseDuration(raw.clockTolerance ?? DEFAULT_CLOCK_SKEW, 'clockTolerance'),
    maxTokenAgeSec: parseDuration(raw.maxTokenAge ?? DEFAULT_TOKEN_TTL, 'maxTokenAge'),
    maxTokenBytes: positiveInteger(raw.maxTokenBytes, DEFAULT_MAX_TOKEN_BYTES, 'maxTokenBytes'),
    bodyDigest,
    replayStore,
    replayStoreFailure,
    deduplicate,
    jwks: jwksSettings,
    clock
  }
}
