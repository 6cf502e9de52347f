import type { Readable } from 'node:stream'
import { CliError, usageError } from '../cli-error.ts'
import { readBytes } from '../read-input.ts'
import { cacheLifetime, type CacheLifetime } from './cache-lifetime.ts'
import { fetchKeySet, type FetchedKeySet } from './fetch-key-set.ts'

/** A key set's URL, its answer's status line and headers, and how long those let it be cached. */
export type UrlSource = { url: string, cache: CacheLifetime } & Omit<FetchedKeySet, 'body'>

/** Where a key set came from: a URL, a file, or standard input. */
export type KeySetSource = UrlSource | { file: string } | { stdin: true }

/** A JWK Set as read: its source, its size, the document and its `keys`, not yet judged. */
export interface LoadedKeySet {
  source: KeySetSource
  bytes: number
  document: Record<string, unknown>
  keys: readonly unknown[]
}

const HTTP_URL = /^https?:\/\//i
/** Something with a scheme that is not a file path: `ftp://…`, `file://…`. */
const OTHER_URL = /^[a-z][a-z0-9+.-]*:\/\//i
const utf8 = new TextDecoder('utf-8', { fatal: true })

function parseUrl (argument: string): URL {
  try {
    return new URL(argument)
  } catch {
    throw usageError(`${argument} is not a valid URL`)
  }
}

async function readSource (argument: string, timeoutMs: number, stdin: Readable): Promise<{ source: KeySetSource, body: Buffer }> {
  if (HTTP_URL.test(argument)) {
    const url = parseUrl(argument)
    const { body, ...answer } = await fetchKeySet(url, timeoutMs)
    return { source: { url: url.href, ...answer, cache: cacheLifetime(answer.headers) }, body }
  }
  if (OTHER_URL.test(argument)) throw usageError(`only http:// and https:// URLs can be fetched (got ${argument}); for a file, give its path`)
  const body = await readBytes(argument, stdin, 'key set file')
  return { source: argument === '-' ? { stdin: true } : { file: argument }, body }
}

function describeSource (source: KeySetSource): string {
  if ('url' in source) return `the answer from ${source.url}`
  return 'file' in source ? `the file ${source.file}` : 'standard input'
}

/**
 * Reads the key set named by `argument`: an `http://` or `https://` URL (fetched with `timeoutMs`), `-` for
 * standard input, anything else a file path. A set that cannot be read, is not JSON, or is not a JWK Set
 * (an object with a `keys` array) is a `CliError` with exit code 3; another URL scheme is a usage error.
 */
export async function loadKeySet (argument: string, options: { timeoutMs: number, stdin: Readable }): Promise<LoadedKeySet> {
  const { source, body } = await readSource(argument, options.timeoutMs, options.stdin)
  let document: unknown
  try {
    document = JSON.parse(utf8.decode(body))
  } catch {
    throw new CliError('JWKS_NOT_JSON', `${describeSource(source)} is not JSON, so it is no JWK Set`)
  }
  // Only an object can hold a "keys" array (an array's own .keys is a method), so this one test is enough.
  const keys = (document as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys)) {
    throw new CliError('JWKS_NOT_A_KEY_SET', `${describeSource(source)} is JSON but not a JWK Set (an object with a "keys" array)`)
  }
  return { source, bytes: body.length, document: document as Record<string, unknown>, keys }
}
