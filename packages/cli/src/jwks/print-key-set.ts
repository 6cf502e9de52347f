import { JWKS_DEFAULTS, MIN_CACHE_AGE_MS } from '@webhook-jwt/consumer'
import { formatDuration } from '@webhook-jwt/protocol'
import type { Output } from '../output.ts'
import { relativeTime } from '../relative-time.ts'
import { terminalSafe } from '../terminal-safe.ts'
import type { CacheLifetime } from './cache-lifetime.ts'
import { statusLine } from './fetch-key-set.ts'
import type { KeyRow } from './inspect-key.ts'
import type { KeySetReport } from './inspect-key-set.ts'
import type { KeySetSource, LoadedKeySet, UrlSource } from './load-key-set.ts'

/** What `--kid` found: the first key with that kid, if any, and whether the consumer would verify with it. */
export interface KidLookup {
  kid: string
  present: boolean
  index?: number
  usable: boolean
}

function printSource (output: Output, source: KeySetSource, bytes: number): void {
  const where = 'url' in source
    ? `${source.url}  ${terminalSafe(`${statusLine(source.status, source.statusText)}, ${source.contentType ?? 'no content-type'}`)}`
    : 'file' in source ? source.file : 'standard input'
  output.line(`${output.paint('bold', 'Key set')}  ${where}, ${bytes} bytes`)
}

/** An HTTP date as sent, and how far it is from this machine's clock: a server's clock that is off shows here. */
function httpDate (value: string, nowMs: number): string {
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? terminalSafe(value) : `${terminalSafe(value)} (${relativeTime(ms, nowMs)})`
}

function cachingSummary (cache: CacheLifetime): string {
  if (cache.noStore) return 'verifiers may not reuse it without asking again'
  if (cache.maxAgeSeconds === null) return 'no max-age: each verifier picks how long to cache it'
  return `verifiers may cache it for ${formatDuration(cache.maxAgeSeconds)}`
}

function printCaching (output: Output, source: UrlSource, nowMs: number): void {
  const { cache } = source
  const { cacheControl, age, date, etag, lastModified } = source.headers
  const rows: Array<[string, string | null]> = [
    ['Cache-Control', `${terminalSafe(cacheControl ?? 'none')}  ${output.paint('dim', `(${cachingSummary(cache)})`)}`],
    ['Age', age === null ? null : `${formatDuration(cache.ageSeconds)} in a cache before this answer`],
    ['Date', date === null ? null : httpDate(date, nowMs)],
    ['ETag', terminalSafe(etag ?? 'none')],
    ['Last-Modified', lastModified === null ? null : httpDate(lastModified, nowMs)]
  ]
  output.line(output.paint('bold', 'Caching'))
  for (const [name, value] of rows) if (value !== null) output.line(`  ${name.padEnd(13)}  ${value}`)
  output.line(`  a consumer keeps it ${formatDuration(cache.consumerKeepsSeconds)} before fetching it again (from Cache-Control and Age, between ${formatDuration(MIN_CACHE_AGE_MS / 1000)} and its jwks.cacheMaxAge, ${formatDuration(JWKS_DEFAULTS.cacheMaxAge)} by default)`)
}

function printKeys (output: Output, keys: readonly KeyRow[]): void {
  output.line(output.paint('bold', `Keys (${keys.length})`))
  if (keys.length === 0) return
  const cells = keys.map((key) => [
    String(key.index),
    key.kid ?? '-',
    key.kty ?? '-',
    key.crv ?? (key.bits === null ? '-' : `${key.bits} bits`),
    key.alg ?? '-',
    key.use ?? '-'
  ].map(terminalSafe))
  const header = ['#', 'kid', 'kty', 'crv/size', 'alg', 'use']
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => (row[column] as string).length)))
  const pad = (row: readonly string[]): string => row.map((cell, column) => cell.padEnd(widths[column] as number)).join('  ')
  output.line(`  ${output.paint('dim', `${pad(header)}  kid is thumbprint`)}`)
  for (const [i, row] of cells.entries()) {
    output.line(`  ${pad(row)}  ${(keys[i] as KeyRow).thumbprintKid ? output.paint('pass', '✓') : output.paint('fail', '✗')}`)
  }
}

function printKid (output: Output, lookup: KidLookup, report: KeySetReport): void {
  const kid = terminalSafe(lookup.kid)
  if (lookup.index === undefined) {
    const kids = [...new Set(report.keys.flatMap((key) => key.kid === null ? [] : [terminalSafe(key.kid)]))]
    output.line(`${output.paint('fail', '✗')} kid ${kid} is NOT in this key set (kids: ${kids.length === 0 ? 'none' : kids.join(', ')})`)
    return
  }
  const key = report.keys[lookup.index] as KeyRow
  const algorithms = key.algorithms.length === 0 ? 'no protocol algorithm' : key.algorithms.join(' or ')
  const use = lookup.usable ? '' : ', but a consumer does not verify with it'
  output.line(`${output.paint(lookup.usable ? 'pass' : 'warn', '✓')} kid ${kid} is present (keys[${lookup.index}], ${algorithms})${use}`)
}

/**
 * Prints a key set's report as text: where it came from, how it may be cached (for a URL), a table of its
 * keys, its problems, the consumer's verdict, and the `--kid` answer.
 */
export function printKeySet (output: Output, loaded: LoadedKeySet, report: KeySetReport, lookup: KidLookup | null, nowMs: number): void {
  printSource(output, loaded.source, loaded.bytes)
  if ('url' in loaded.source) printCaching(output, loaded.source, nowMs)
  printKeys(output, report.keys)
  if (report.problems.length > 0) {
    output.line(output.paint('fail', `Problems (${report.problems.length})`))
    for (const { index, message } of report.problems) output.line(`  ${output.paint('fail', '!')} ${index === null ? 'the set' : `keys[${index}]`}: ${terminalSafe(message)}`)
  }
  const { consumer } = report
  if (consumer.accepts) {
    const total = report.keys.length
    output.line(`${output.paint('pass', '✓')} a consumer accepts this key set: ${consumer.usableKids.length} of ${total} key${total === 1 ? '' : 's'} usable`)
  } else {
    output.line(`${output.paint('fail', '✗')} a consumer refuses this key set whole: ${terminalSafe(consumer.reason as string)} (it keeps the last set it accepted)`)
  }
  if (lookup !== null) printKid(output, lookup, report)
}
