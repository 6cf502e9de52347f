import { reject } from '../errors.ts'
import { parseStrictJson } from './strict-json.ts'

/** A token that passed the format checks: decoded, not yet verified. */
export interface ParsedToken {
  compact: string
  header: Record<string, unknown>
  claims: Record<string, unknown>
}

// RFC 8725bis "Check JWT Format Type": letters, digits, '-', '_' and exactly two dots, nothing else.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
// Fatal: a byte sequence that is not UTF-8 is an error, never U+FFFD. ignoreBOM keeps a BOM in the text,
// where the JSON scan then refuses it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Decodes base64url that is in its one canonical form (no padding, zero trailing bits). */
function decodeCanonical (segment: string): Buffer | undefined {
  const bytes = Buffer.from(segment, 'base64url')
  return bytes.toString('base64url') === segment ? bytes : undefined
}

/** Decodes a segment that must hold a UTF-8 JSON object without repeated members. */
export function decodeJsonObject (segment: string): Record<string, unknown> {
  const bytes = decodeCanonical(segment) ?? reject('WEBHOOK_TOKEN_MALFORMED')
  let value: unknown
  try {
    value = parseStrictJson(utf8.decode(bytes))
  } catch {
    // Not UTF-8, not JSON, a repeated member or too deep: all the sender's doing.
    reject('WEBHOOK_TOKEN_MALFORMED')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) reject('WEBHOOK_TOKEN_MALFORMED')
  return value as Record<string, unknown>
}

/**
 * The format checks, cheapest first: length, alphabet and shape, canonical base64url in every segment,
 * UTF-8 JSON objects without duplicate members in the header and the claims. Any failure is
 * `WEBHOOK_TOKEN_MALFORMED`. The signature segment is only checked for its encoding here.
 */
export function parseCompactJws (compact: string, maxBytes: number): ParsedToken {
  const [header, claims] = checkCompactFormat(compact, maxBytes)
  return { compact, header: decodeJsonObject(header), claims: decodeJsonObject(claims) }
}

/** Length, alphabet, three segments, and every segment in canonical base64url; returns the segments. */
export function checkCompactFormat (compact: string, maxBytes: number): [string, string, string] {
  if (compact.length > maxBytes || !COMPACT_JWS.test(compact)) reject('WEBHOOK_TOKEN_MALFORMED')
  const segments = compact.split('.') as [string, string, string]
  if (decodeCanonical(segments[1]) === undefined || decodeCanonical(segments[2]) === undefined) reject('WEBHOOK_TOKEN_MALFORMED')
  return segments
}
