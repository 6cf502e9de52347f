import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import type { JWK } from 'jose'
import { WebhookOptionError } from '@webhook-jwt/protocol'
import { KeyDecryptionError } from '../errors.ts'
import type { StoredPrivateKey } from '../key-store/key-store.ts'

const KEY_BYTES = 32
const IV_BYTES = 12

/** Reads the key-encryption key option: 32 bytes, or their base64url. */
export function readKeyEncryptionKey (value: unknown, option: string): Buffer {
  let bytes: Buffer | undefined
  if (value instanceof Uint8Array) bytes = Buffer.from(value)
  else if (typeof value === 'string' && /^[A-Za-z0-9_-]+$/.test(value)) bytes = Buffer.from(value, 'base64url')
  if (bytes?.length !== KEY_BYTES) {
    throw new WebhookOptionError(option, 'must be 32 random bytes, as a Uint8Array or a base64url string (for example from crypto.randomBytes(32).toString(\'base64url\'))')
  }
  return bytes
}

// The kid is bound as additional data, so an encrypted private key cannot be moved onto another key's record.
function additionalData (kid: string): Buffer {
  return Buffer.from(`webhook-jwt:${kid}`)
}

/** Wraps a private JWK for storage: encrypted when a key-encryption key is configured, plain otherwise. */
export function sealPrivateKey (jwk: JWK, kid: string, keyEncryptionKey: Buffer | null): StoredPrivateKey {
  if (keyEncryptionKey === null) return { format: 'jwk', jwk }
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', keyEncryptionKey, iv)
  cipher.setAAD(additionalData(kid))
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(jwk)), cipher.final()])
  return { format: 'A256GCM', iv: iv.toString('base64url'), tag: cipher.getAuthTag().toString('base64url'), ciphertext: ciphertext.toString('base64url') }
}

/** Unwraps a stored private key into its JWK. */
export function openPrivateKey (stored: StoredPrivateKey, kid: string, keyEncryptionKey: Buffer | null): JWK {
  if (stored.format === 'jwk') return stored.jwk
  if (keyEncryptionKey === null) throw new KeyDecryptionError(kid, 'it is encrypted at rest; configure the keyEncryptionKey it was encrypted with')
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyEncryptionKey, Buffer.from(stored.iv, 'base64url'))
    decipher.setAAD(additionalData(kid))
    decipher.setAuthTag(Buffer.from(stored.tag, 'base64url'))
    const plain = Buffer.concat([decipher.update(Buffer.from(stored.ciphertext, 'base64url')), decipher.final()])
    return JSON.parse(plain.toString('utf8')) as JWK
  } catch {
    throw new KeyDecryptionError(kid, 'the keyEncryptionKey is not the one it was encrypted with, or the stored key was altered')
  }
}
