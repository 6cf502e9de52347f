import { resolve } from 'node:path'
import {
  DEFAULT_ALGORITHM, DEFAULT_CLOCK_SKEW, DEFAULT_JWKS_MAX_AGE, DEFAULT_JWKS_PATH, DEFAULT_TOKEN_HEADER, DEFAULT_TOKEN_TTL,
  MIN_RSA_MODULUS_BITS, SIGNING_ALGORITHMS, WebhookOptionError, describeValue, formatDuration, isSigningAlgorithm,
  objectOption, parseDuration, systemClock, type Clock, type Duration, type SigningAlgorithm
} from '@webhook-jwt/protocol'
import { fileKeyStore } from './key-store/file-key-store.ts'
import type { KeyStore } from './key-store/key-store.ts'
import { readKeyEncryptionKey } from './keys/key-encryption.ts'
import { readDeliveryOptions, type DeliveryOptions, type DeliverySettings } from './delivery/delivery-options.ts'

/** Where the embedded file key store keeps its keys when `keyStore` is omitted, relative to the working directory. */
export const DEFAULT_KEY_FILE = '.webhook-jwt/signing-keys.json'

/** How long a key signs before the next one takes over, unless `rotation.every` says otherwise: 30 days. */
export const DEFAULT_ROTATION_PERIOD = 30 * 86400

/** Options of `@webhook-jwt/producer`. Every duration is in seconds, or a string such as `'10m'`. */
export interface WebhookProducerOptions {
  /** The `iss` claim of every token: your service's URL. Required. */
  issuer: string
  /** Algorithm of the keys this producer generates. Default `'ES256'`. Changing it takes effect at the next rotation. */
  algorithm?: SigningAlgorithm
  /** RSA modulus length for `RS256`/`PS256` keys, in bits. Default 2048, the minimum. */
  rsaModulusLength?: number
  /** Where keys and their lifecycle are kept. Default: `fileKeyStore({ path: '.webhook-jwt/signing-keys.json' })`. */
  keyStore?: KeyStore
  /** 32 bytes (or their base64url) that encrypt private keys at rest with AES-256-GCM. Default: none (file mode 0600 only). */
  keyEncryptionKey?: Uint8Array | string
  /** Lifetime of every token: `exp` = `iat` + this. Whole seconds. Default 300. */
  tokenTtl?: Duration
  /** Clock difference tolerated between this producer and its receivers; added to every rotation wait. Default 30. */
  clockSkew?: Duration
  /** The request header that carries the token. Default `'authorization'` (as `Bearer <token>`). */
  header?: string
  jwks?: {
    /** Route of the JWKS document. Default `'/.well-known/jwks.json'`. */
    path?: string
    /** `Cache-Control: max-age` of the JWKS, whole seconds. Default 600. */
    maxAge?: Duration
  }
  rotation?: {
    /** How long each key signs; a rotation starts `publishLead` before that. `false` turns scheduled rotation off. Default 30 days. */
    every?: Duration | false
    /** How long a new key is published before it signs. At least `jwks.maxAge + clockSkew` (+ a shared store's `maxStaleness`), which is the default. */
    publishLead?: Duration
    /** How long an old key stays published after it stops signing. At least `tokenTtl + clockSkew` (+ a shared store's `maxStaleness`), which is the default. */
    retireAfter?: Duration
  }
  /** Sending with retries: `app.webhooks.deliver()`. */
  delivery?: DeliveryOptions
  /** Time source, for tests and simulations. Default: the system clock. */
  clock?: Clock
}

/** The options once validated: durations in seconds, defaults filled in. */
export interface ProducerSettings {
  issuer: string
  algorithm: SigningAlgorithm
  rsaModulusLength: number
  keyStore: KeyStore
  keyEncryptionKey: Buffer | null
  tokenTtl: number
  clockSkew: number
  header: string
  jwksPath: string
  jwksMaxAge: number
  rotationEvery: number | null
  publishLead: number
  retireAfter: number
  delivery: DeliverySettings
  clock: Clock
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/
/** Headers a delivery already sets or that HTTP owns: the token cannot travel in them. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'transfer-encoding', 'host', 'webhook-id'])
/** The largest RSA key generated: 8192 bits already takes seconds. */
export const MAX_RSA_MODULUS_BITS = 8192

function isKeyStore (value: unknown): value is KeyStore {
  const store = value as Partial<KeyStore> | null
  return typeof store === 'object' && store !== null && typeof store.read === 'function' && typeof store.write === 'function' &&
    typeof store.description === 'string' && (store.close === undefined || typeof store.close === 'function') &&
    (store.lease === undefined || typeof store.lease === 'function') && (store.watch === undefined || typeof store.watch === 'function') &&
    (store.maxStaleness === undefined || (typeof store.maxStaleness === 'number' && store.maxStaleness > 0 && Number.isFinite(store.maxStaleness)))
}

function isClock (value: unknown): value is Clock {
  const clock = value as Partial<Clock> | null
  return typeof clock === 'object' && clock !== null && typeof clock.now === 'function' && typeof clock.setTimeout === 'function' && typeof clock.clearTimeout === 'function'
}

/**
 * The shortest safe rotation waits, in seconds, which are also their defaults: a new key is published at least
 * `jwks.maxAge + clockSkew` before it signs, and an old key stays published `tokenTtl + clockSkew` after it
 * stops, each plus a shared store's `maxStaleness` (how late a replica may learn of a step).
 *
 * @example
 * minimumRotationWaits({ jwksMaxAge: 600, tokenTtl: 300, clockSkew: 30, maxStaleness: 0 }) // { publishLead: 630, retireAfter: 330 }
 */
export function minimumRotationWaits (settings: { jwksMaxAge: number, tokenTtl: number, clockSkew: number, maxStaleness: number }): { publishLead: number, retireAfter: number } {
  return {
    publishLead: settings.jwksMaxAge + settings.clockSkew + settings.maxStaleness,
    retireAfter: settings.tokenTtl + settings.clockSkew + settings.maxStaleness
  }
}

/**
 * Validates and normalises the options once, at registration. Every message names the option and its rule;
 * unsafe rotation windows are refused with `WEBHOOK_UNSAFE_ROTATION` and the rule they break.
 */
export function readProducerOptions (options: WebhookProducerOptions): ProducerSettings {
  const raw = objectOption(options, 'options') as Partial<WebhookProducerOptions>

  if (typeof raw.issuer !== 'string' || raw.issuer.trim() === '') {
    throw new WebhookOptionError('issuer', `is required: the non-empty string receivers expect in the iss claim, usually your service's URL (got ${describeValue(raw.issuer)})`)
  }

  const algorithm = raw.algorithm ?? DEFAULT_ALGORITHM
  if (!isSigningAlgorithm(algorithm)) {
    throw new WebhookOptionError('algorithm', `must be one of ${SIGNING_ALGORITHMS.join(', ')} (got ${describeValue(algorithm)})`)
  }

  const rsaModulusLength = raw.rsaModulusLength ?? MIN_RSA_MODULUS_BITS
  if (!Number.isInteger(rsaModulusLength) || rsaModulusLength < MIN_RSA_MODULUS_BITS || rsaModulusLength > MAX_RSA_MODULUS_BITS || rsaModulusLength % 8 !== 0) {
    throw new WebhookOptionError('rsaModulusLength', `must be a whole number of bytes in bits, from ${MIN_RSA_MODULUS_BITS} to ${MAX_RSA_MODULUS_BITS} (got ${describeValue(rsaModulusLength)})`)
  }

  let keyStore: KeyStore
  if (raw.keyStore === undefined) {
    keyStore = fileKeyStore({ path: resolve(DEFAULT_KEY_FILE) })
  } else if (isKeyStore(raw.keyStore)) {
    keyStore = raw.keyStore
  } else {
    throw new WebhookOptionError('keyStore', 'must be a key store: an object with description, read(), write() and optionally close(), lease(), watch() and a positive maxStaleness, such as memoryKeyStore() or fileKeyStore({ path })')
  }

  const keyEncryptionKey = raw.keyEncryptionKey === undefined ? null : readKeyEncryptionKey(raw.keyEncryptionKey, 'keyEncryptionKey')
  if (keyEncryptionKey === null && keyStore.requiresEncryption === true) {
    throw new WebhookOptionError('keyEncryptionKey', `is required with the key store ${keyStore.description}: private keys kept there are encrypted at rest, and every replica needs the same key-encryption key (32 random bytes, for example crypto.randomBytes(32).toString('base64url'))`)
  }

  const tokenTtl = parseDuration(raw.tokenTtl ?? DEFAULT_TOKEN_TTL, 'tokenTtl', 'integer')
  if (tokenTtl < 1) throw new WebhookOptionError('tokenTtl', 'must be at least 1 second')
  const clockSkew = parseDuration(raw.clockSkew ?? DEFAULT_CLOCK_SKEW, 'clockSkew')

  const header = raw.header ?? DEFAULT_TOKEN_HEADER
  if (typeof header !== 'string' || !HEADER_NAME.test(header) || RESERVED_HEADERS.has(header)) {
    throw new WebhookOptionError('header', `must be a lower-case HTTP header name such as 'authorization', other than ${[...RESERVED_HEADERS].join(', ')} (got ${describeValue(header)})`)
  }

  const jwks = objectOption(raw.jwks, 'jwks')
  const jwksPath = jwks.path ?? DEFAULT_JWKS_PATH
  if (typeof jwksPath !== 'string' || !jwksPath.startsWith('/')) {
    throw new WebhookOptionError('jwks.path', `must be a route path starting with '/' (got ${describeValue(jwksPath)})`)
  }
  const jwksMaxAge = parseDuration(jwks.maxAge ?? DEFAULT_JWKS_MAX_AGE, 'jwks.maxAge', 'integer')

  const rotation = objectOption(raw.rotation, 'rotation')
  // A shared store's replicas may sign and serve what they last read for up to maxStaleness: both waits grow by it.
  const staleness = keyStore.maxStaleness ?? 0
  const { publishLead: minPublishLead, retireAfter: minRetireAfter } = minimumRotationWaits({ jwksMaxAge, tokenTtl, clockSkew, maxStaleness: staleness })
  const withStaleness = staleness === 0 ? '' : ` + the key store's maxStaleness (${formatDuration(staleness)})`
  const publishLead = parseDuration(rotation.publishLead ?? minPublishLead, 'rotation.publishLead')
  const retireAfter = parseDuration(rotation.retireAfter ?? minRetireAfter, 'rotation.retireAfter')
  if (publishLead < minPublishLead) {
    throw new WebhookOptionError('rotation.publishLead', `must be at least jwks.maxAge + clockSkew${withStaleness} (${formatDuration(minPublishLead)}): receivers may cache the key set for jwks.maxAge, so a key that signs sooner after it is published can reach receivers that do not have it yet (got ${formatDuration(publishLead)})`, 'WEBHOOK_UNSAFE_ROTATION')
  }
  if (retireAfter < minRetireAfter) {
    throw new WebhookOptionError('rotation.retireAfter', `must be at least tokenTtl + clockSkew${withStaleness} (${formatDuration(minRetireAfter)}): an old key must stay published until the last token it signed has expired on every receiver's clock (got ${formatDuration(retireAfter)})`, 'WEBHOOK_UNSAFE_ROTATION')
  }
  let rotationEvery: number | null
  if (rotation.every === false) {
    rotationEvery = null
  } else {
    rotationEvery = parseDuration(rotation.every ?? Math.max(DEFAULT_ROTATION_PERIOD, publishLead + retireAfter), 'rotation.every')
    if (rotationEvery < publishLead + retireAfter) {
      throw new WebhookOptionError('rotation.every', `must be at least rotation.publishLead + rotation.retireAfter (${formatDuration(publishLead + retireAfter)}): a rotation must retire the old key before the next one publishes a new key (got ${formatDuration(rotationEvery)})`, 'WEBHOOK_UNSAFE_ROTATION')
    }
  }

  const clock = raw.clock ?? systemClock
  if (!isClock(clock)) throw new WebhookOptionError('clock', 'must have now(), setTimeout() and clearTimeout()')

  const delivery = readDeliveryOptions(raw.delivery)
  return { issuer: raw.issuer, algorithm, rsaModulusLength, keyStore, keyEncryptionKey, tokenTtl, clockSkew, header, jwksPath, jwksMaxAge, rotationEvery, publishLead, retireAfter, delivery, clock }
}
