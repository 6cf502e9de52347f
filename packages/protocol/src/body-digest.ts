import { createHash, timingSafeEqual } from 'node:crypto'

/**
 * The `body_sha256` claim: base64url, without padding, of the SHA-256 of the exact body bytes.
 *
 * @example
 * bodyDigest(Buffer.from('{}')) // 'RBNvo1WzZ4oRRq0W9-hknpT7T8If536DEMBg9hyq_4o'
 */
export function bodyDigest (body: Uint8Array | string): string {
  return createHash('sha256').update(body).digest('base64url')
}

/**
 * Compares a computed digest with a claimed one in constant time (for equal lengths; a length
 * difference is not secret, since every valid digest has 43 characters).
 */
export function digestsMatch (computed: string, claimed: unknown): boolean {
  if (typeof claimed !== 'string') return false
  const a = Buffer.from(computed)
  const b = Buffer.from(claimed)
  return a.length === b.length && timingSafeEqual(a, b)
}
