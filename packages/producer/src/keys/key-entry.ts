import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import type { JWK } from 'jose'
import { MIN_RSA_MODULUS_BITS, RSA_PUBLIC_EXPONENT, algorithmsForKey, isSigningAlgorithm, keyIdOf, toPublishedJwk, type PublishedJwk, type SigningAlgorithm } from '@webhook-jwt/protocol'
import { KeyStoreCorruptError } from '../errors.ts'
import { KEY_SET_FORMAT, type KeyState, type StoredKey, type StoredKeySet, type StoredPrivateKey, type TransitionReason } from '../key-store/key-store.ts'
import { openPrivateKey, sealPrivateKey } from './key-encryption.ts'

/** A key as the producer holds it in memory: its stored form plus the imported private key. Immutable. */
export interface KeyEntry {
  readonly kid: string
  readonly alg: SigningAlgorithm
  readonly state: KeyState
  readonly publicJwk: PublishedJwk
  readonly sealed: StoredPrivateKey | null
  readonly privateKey: KeyObject | null
  readonly transitions: ReadonlyArray<{ state: KeyState, atMs: number, reason: TransitionReason }>
  readonly scheduled: { state: KeyState, atMs: number } | null
}

const STATES: readonly KeyState[] = ['next', 'active', 'retiring', 'retired']
/** What a key in each state waits for: a next key to sign, a retiring key to retire, the others nothing. */
const SCHEDULED_STATE: Record<KeyState, KeyState | null> = { next: 'active', active: null, retiring: 'retired', retired: null }
const REASONS: readonly TransitionReason[] = ['bootstrap', 'rotation', 'rollback', 'revoke']

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function readTime (value: unknown, where: string): number {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN
  if (Number.isNaN(ms)) throw new Error(`${where} is not an ISO 8601 time`)
  return ms
}

function readState (value: unknown, where: string): KeyState {
  if (!STATES.includes(value as KeyState)) throw new Error(`${where} is not a key state`)
  return value as KeyState
}

function readSealed (value: unknown, where: string): StoredPrivateKey {
  if (isObject(value) && value.format === 'jwk' && isObject(value.jwk)) return { format: 'jwk', jwk: value.jwk as JWK }
  if (isObject(value) && value.format === 'A256GCM' && typeof value.iv === 'string' && typeof value.tag === 'string' && typeof value.ciphertext === 'string') {
    return { format: 'A256GCM', iv: value.iv, tag: value.tag, ciphertext: value.ciphertext }
  }
  throw new Error(`${where} is neither a JWK nor an A256GCM-encrypted JWK`)
}

// A private JWK carries its public members too, and Node trusts them: only a signature shows that `d` matches.
const PROBE = Buffer.from('webhook-jwt key pair check')

function pairMatches (privateKey: KeyObject, publicKey: KeyObject): boolean {
  const digest = privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256'
  return verify(digest, PROBE, publicKey, sign(digest, PROBE, privateKey))
}

async function checkPublicKey (jwk: Record<string, unknown>, kid: string, alg: SigningAlgorithm, where: string): Promise<{ published: PublishedJwk, publicKey: KeyObject }> {
  let published: PublishedJwk
  let publicKey: KeyObject
  try {
    published = toPublishedJwk(jwk, { kid, alg })
    publicKey = createPublicKey({ key: { ...published }, format: 'jwk' })
  } catch {
    throw new Error(`${where}.publicJwk is not a usable public key`)
  }
  if (await keyIdOf(published) !== kid) throw new Error(`${where}.kid is not the RFC 7638 thumbprint of its public key`)
  if (!algorithmsForKey(published).includes(alg)) throw new Error(`${where}.alg ${alg} does not fit a ${String(published.crv ?? published.kty)} key`)
  if (published.kty === 'RSA' && (published.e !== RSA_PUBLIC_EXPONENT || (publicKey.asymmetricKeyDetails as { modulusLength: number }).modulusLength < MIN_RSA_MODULUS_BITS)) {
    throw new Error(`${where} is an RSA key under ${MIN_RSA_MODULUS_BITS} bits or with an exponent other than 65537`)
  }
  return { published, publicKey }
}

/** How private keys are read: opened with the key-encryption key (or none), or only checked for shape (`'public-only'`). */
type PrivateKeyAccess = Buffer | null | 'public-only'

async function readKey (value: unknown, index: number, keyEncryptionKey: PrivateKeyAccess): Promise<KeyEntry> {
  const where = `keys[${index}]`
  if (!isObject(value)) throw new Error(`${where} is not an object`)
  const { kid, alg } = value
  if (typeof kid !== 'string' || kid === '') throw new Error(`${where}.kid is missing`)
  if (!isSigningAlgorithm(alg)) throw new Error(`${where}.alg is not a supported algorithm`)
  const state = readState(value.state, `${where}.state`)
  if (!isObject(value.publicJwk)) throw new Error(`${where}.publicJwk is missing`)
  const { published: publicJwk, publicKey } = await checkPublicKey(value.publicJwk, kid, alg, where)
  if (!Array.isArray(value.transitions)) throw new Error(`${where}.transitions is not an array`)
  const transitions = value.transitions.map((step: unknown, i) => {
    if (!isObject(step) || !REASONS.includes(step.reason as TransitionReason)) throw new Error(`${where}.transitions[${i}] is malformed`)
    return { state: readState(step.state, `${where}.transitions[${i}].state`), atMs: readTime(step.at, `${where}.transitions[${i}].at`), reason: step.reason as TransitionReason }
  })
  let scheduled: KeyEntry['scheduled'] = null
  if (value.scheduled !== null) {
    if (!isObject(value.scheduled)) throw new Error(`${where}.scheduled is malformed`)
    scheduled = { state: readState(value.scheduled.state, `${where}.scheduled.state`), atMs: readTime(value.scheduled.at, `${where}.scheduled.at`) }
  }
  if ((scheduled?.state ?? null) !== SCHEDULED_STATE[state]) throw new Error(`${where} is ${state} but its scheduled step is ${scheduled === null ? 'none' : scheduled.state}`)
  if (state === 'active' && !transitions.some((step) => step.state === 'active')) throw new Error(`${where} is active but never became active`)
  if (state === 'retired') {
    if (value.privateKey !== null) throw new Error(`${where} is retired but still holds a private key`)
    return { kid, alg, state, publicJwk, sealed: null, privateKey: null, transitions, scheduled }
  }
  const sealed = readSealed(value.privateKey, `${where}.privateKey`)
  if (keyEncryptionKey === 'public-only') return { kid, alg, state, publicJwk, sealed, privateKey: null, transitions, scheduled }
  const privateJwk = openPrivateKey(sealed, kid, keyEncryptionKey)
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: privateJwk, format: 'jwk' })
  } catch {
    throw new Error(`${where}.privateKey is not a usable private key`)
  }
  if (!pairMatches(privateKey, publicKey)) throw new Error(`${where}.privateKey does not belong to its public key`)
  return { kid, alg, state, publicJwk, sealed, privateKey, transitions, scheduled }
}

/**
 * Validates a stored key set and imports its keys (with `'public-only'`, its public keys: private keys are
 * only checked for shape, so the set can be inspected without the key-encryption key). Anything unexpected is `WEBHOOK_KEY_STORE_CORRUPT`
 * (a key that cannot be decrypted is `WEBHOOK_KEY_DECRYPTION_FAILED`): a store is never repaired by guessing.
 */
export async function readKeySet (stored: StoredKeySet, keyEncryptionKey: PrivateKeyAccess, description: string): Promise<{ revision: number, keys: KeyEntry[] }> {
  try {
    const document = stored as unknown
    if (!isObject(document) || document.format !== KEY_SET_FORMAT) throw new Error(`its format is not ${KEY_SET_FORMAT}`)
    if (!Number.isSafeInteger(document.revision) || (document.revision as number) < 0) throw new Error('its revision is not a whole number')
    if (!Array.isArray(document.keys)) throw new Error('it has no keys array')
    const keys: KeyEntry[] = []
    for (const [index, value] of document.keys.entries()) keys.push(await readKey(value, index, keyEncryptionKey))
    if (new Set(keys.map((key) => key.kid)).size !== keys.length) throw new Error('two keys share a kid')
    if (keys.filter((key) => key.state === 'active').length > 1) throw new Error('more than one key is active')
    if (keys.filter((key) => key.state === 'next' || key.state === 'retiring').length > 1) throw new Error('more than one rotation is in progress')
    return { revision: document.revision as number, keys }
  } catch (error) {
    if ((error as { code?: string }).code === 'WEBHOOK_KEY_DECRYPTION_FAILED') throw error
    throw new KeyStoreCorruptError(description, (error as Error).message)
  }
}

/** The stored form of the key set, at the given revision. */
export function writeKeySet (keys: readonly KeyEntry[], revision: number): StoredKeySet {
  return {
    format: KEY_SET_FORMAT,
    revision,
    keys: keys.map((key): StoredKey => ({
      kid: key.kid,
      alg: key.alg,
      state: key.state,
      publicJwk: key.publicJwk,
      privateKey: key.sealed,
      transitions: key.transitions.map((step) => ({ state: step.state, at: new Date(step.atMs).toISOString(), reason: step.reason })),
      scheduled: key.scheduled === null ? null : { state: key.scheduled.state, at: new Date(key.scheduled.atMs).toISOString() }
    }))
  }
}

/** A freshly generated key as an entry in `state`, sealed for storage. */
export function newKeyEntry (material: { kid: string, alg: SigningAlgorithm, publicJwk: PublishedJwk, privateJwk: JWK, privateKey: KeyObject }, keyEncryptionKey: Buffer | null): KeyEntry {
  return {
    kid: material.kid,
    alg: material.alg,
    state: 'next',
    publicJwk: material.publicJwk,
    sealed: sealPrivateKey(material.privateJwk, material.kid, keyEncryptionKey),
    privateKey: material.privateKey,
    transitions: [],
    scheduled: null
  }
}

/** Re-seals plain private keys when a key-encryption key has been configured since they were stored. */
export function sealPlainKeys (keys: readonly KeyEntry[], keyEncryptionKey: Buffer | null): { keys: KeyEntry[], sealedCount: number } {
  let sealedCount = 0
  const sealed = keys.map((key) => {
    if (keyEncryptionKey === null || key.sealed?.format !== 'jwk') return key
    sealedCount++
    return { ...key, sealed: sealPrivateKey(key.sealed.jwk, key.kid, keyEncryptionKey) }
  })
  return { keys: sealed, sealedCount }
}
