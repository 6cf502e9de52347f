import { createHash } from 'node:crypto'
import type { KeyEntry } from '../keys/key-entry.ts'
import { publishedKeys } from '../rotation/lifecycle.ts'

/** The JWKS as served: built once per key change, never per request. */
export interface JwksDocument {
  /** The JSON text as bytes, so it goes out exactly as hashed (a string would get a charset appended). */
  body: Buffer
  /** A strong validator: the quoted base64url SHA-256 of the body. */
  etag: string
  kids: ReadonlySet<string>
}

/** Builds the JWKS of the published keys (`next`, `active`, `retiring`): public members only. */
export function buildJwksDocument (keys: readonly KeyEntry[]): JwksDocument {
  const published = publishedKeys(keys)
  const body = Buffer.from(JSON.stringify({ keys: published.map((key) => key.publicJwk) }))
  return {
    body,
    etag: `"${createHash('sha256').update(body).digest('base64url')}"`,
    kids: new Set(published.map((key) => key.kid))
  }
}

/** RFC 9110 §13.1.2: `If-None-Match` uses the weak comparison, and `*` matches any current representation. */
export function matchesIfNoneMatch (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((candidate) => {
    const tag = candidate.trim()
    return tag === '*' || (tag.startsWith('W/') ? tag.slice(2) : tag) === etag
  })
}
