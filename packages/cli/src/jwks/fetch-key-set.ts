import { networkErrorName } from '@webhook-jwt/protocol'
import { CliError } from '../cli-error.ts'
import { terminalSafe } from '../terminal-safe.ts'

/** A key set's URL is not a download link: anything larger than this is refused before it fills memory. */
const MAX_ANSWER_BYTES = 1024 * 1024

/** The response headers that say how a key set may be cached, as sent (`null` when absent). */
export interface CachingHeaders {
  cacheControl: string | null
  etag: string | null
  age: string | null
  date: string | null
  lastModified: string | null
}

/** A 200 answer from a key set's URL: its status line, media type, caching headers and body. */
export interface FetchedKeySet {
  status: number
  statusText: string
  contentType: string | null
  headers: CachingHeaders
  body: Buffer
}

/** What the operator can do about a network failure, for the codes that have one obvious cause. */
const NETWORK_HINTS: Record<string, string> = {
  ECONNREFUSED: 'nothing listens on that port',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved now (DNS)'
}

async function readCapped (body: ReadableStream<Uint8Array>, url: URL): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of body) {
    total += chunk.byteLength
    if (total > MAX_ANSWER_BYTES) throw new CliError('JWKS_TOO_LARGE', `the answer from ${url.href} is larger than ${MAX_ANSWER_BYTES} bytes: that is no key set`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** `200 OK`, or `200` alone when the server sent no reason phrase (HTTP/2 never does). */
export function statusLine (status: number, statusText: string): string {
  return `${status} ${statusText}`.trimEnd()
}

function statusError (url: URL, response: Response): CliError {
  const status = terminalSafe(statusLine(response.status, response.statusText))
  const location = response.headers.get('location')
  // A consumer never follows a redirect (the key set must come from the URL it was given), so say where it points.
  const why = location === null ? 'not 200' : `a redirect to ${terminalSafe(location)}: a consumer does not follow redirects, configure it with the final URL`
  return new CliError('JWKS_HTTP_STATUS', `${url.href} answered ${status}, ${why}`)
}

/** Names a failure of the fetch: ours as it is, else a timeout or the network error's code. */
function describeFailure (error: unknown, url: URL, timedOut: boolean, timeoutMs: number): CliError {
  if (error instanceof CliError) return error
  if (timedOut) return new CliError('JWKS_TIMEOUT', `${url.href} did not answer in full within ${timeoutMs} ms (--timeout)`)
  const name = networkErrorName(error)
  const hint = NETWORK_HINTS[name]
  return new CliError('JWKS_UNREACHABLE', `cannot reach ${url.href}: ${name}${hint === undefined ? '' : ` (${hint})`}`)
}

async function download (url: URL, signal: AbortSignal): Promise<FetchedKeySet> {
  const response = await fetch(url, {
    redirect: 'manual',
    signal,
    headers: { accept: 'application/jwk-set+json, application/json', 'accept-encoding': 'identity', 'user-agent': '@webhook-jwt/cli' }
  })
  if (response.status !== 200) {
    await response.body?.cancel()
    throw statusError(url, response)
  }
  const body = await readCapped(response.body as ReadableStream<Uint8Array>, url)
  const header = (name: string): string | null => response.headers.get(name)
  return {
    status: response.status,
    statusText: response.statusText,
    contentType: header('content-type'),
    headers: { cacheControl: header('cache-control'), etag: header('etag'), age: header('age'), date: header('date'), lastModified: header('last-modified') },
    body
  }
}

/**
 * Fetches a key set as a consumer does: one GET, no redirects, a deadline that covers the body too. Unlike
 * the consumer's fetch it keeps the caching headers and does not refuse another media type, so the command
 * can show a set a consumer would refuse and say why. A failure is a `CliError` naming the URL (exit code 3).
 */
export async function fetchKeySet (url: URL, timeoutMs: number): Promise<FetchedKeySet> {
  const controller = new AbortController()
  const deadline = setTimeout(() => { controller.abort() }, timeoutMs)
  return await download(url, controller.signal)
    .catch((error: unknown) => { throw describeFailure(error, url, controller.signal.aborted, timeoutMs) })
    .finally(() => { clearTimeout(deadline) })
}
