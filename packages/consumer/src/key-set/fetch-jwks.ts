import { networkErrorName } from '@webhook-jwt/protocol'

/** Why a fetch failed, in words safe for logs and status (never the response body). */
export class JwksFetchError extends Error {
  readonly status: number | undefined
  constructor (message: string, status?: number) {
    super(message)
    this.status = status
  }
}

export interface FetchedJwks {
  document: unknown
  /** Seconds the response may be used for: `max-age` minus `Age`, if the response said. */
  freshFor: number | undefined
  /** The response's `Age` in seconds (RFC 9111 §5.1): how long a cache held it. 0 if absent or invalid. */
  ageSec: number
}

const JSON_TYPE = /^application\/(?:jwk-set\+)?json\s*(?:;|$)/i
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Age is a non-negative integer (RFC 9111 §5.1); anything else is ignored rather than trusted. */
function ageOf (headers: Headers): number {
  const ageHeader = headers.get('age') ?? ''
  return /^\d+$/.test(ageHeader) ? Number(ageHeader) : 0
}

function freshness (headers: Headers): number | undefined {
  const cacheControl = headers.get('cache-control') ?? ''
  if (/(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)/i.test(cacheControl)) return 0
  const maxAge = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?\s*(?:,|$)/i.exec(cacheControl)?.[1]
  if (maxAge === undefined) return undefined
  return Math.max(0, Number(maxAge) - ageOf(headers))
}

async function readCapped (body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of body) {
    total += chunk.byteLength
    if (total > maxBytes) throw new JwksFetchError(`the key set is larger than jwks.maxBytes (${maxBytes} bytes)`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

async function download (url: URL, signal: AbortSignal, maxBytes: number): Promise<FetchedJwks> {
  const response = await fetch(url, {
    redirect: 'manual',
    signal,
    headers: { accept: 'application/jwk-set+json, application/json', 'accept-encoding': 'identity', 'user-agent': '@webhook-jwt/consumer' }
  })
  if (response.status !== 200) {
    await response.body?.cancel()
    throw new JwksFetchError(`the key set endpoint answered ${response.status}`, response.status)
  }
  if (!JSON_TYPE.test(response.headers.get('content-type') ?? '')) {
    await (response.body as ReadableStream).cancel()
    throw new JwksFetchError('the key set endpoint answered with a media type other than JSON', 200)
  }
  const bytes = await readCapped(response.body as ReadableStream<Uint8Array>, maxBytes)
  let document: unknown
  try {
    document = JSON.parse(utf8.decode(bytes))
  } catch {
    throw new JwksFetchError('the key set is not valid JSON', 200)
  }
  return { document, freshFor: freshness(response.headers), ageSec: ageOf(response.headers) }
}

/** Names what went wrong, in words safe for logs: the error itself when it is ours, else why the fetch stopped. */
function describeFailure (error: unknown, signal: AbortSignal, options: { timeoutMs: number, closing: AbortSignal }): JwksFetchError {
  if (error instanceof JwksFetchError) return error
  if (options.closing.aborted) return new JwksFetchError('the app closed during the fetch')
  if (signal.aborted) return new JwksFetchError(`the key set endpoint did not answer in full within ${options.timeoutMs} ms`)
  return new JwksFetchError(`the key set endpoint cannot be reached (${networkErrorName(error)})`)
}

/**
 * Fetches a JWK Set: one GET to the configured URL, no redirects, a deadline that covers the body too,
 * a byte cap counted as the body arrives (so neither a huge body nor a compressed one can exhaust memory),
 * only a 200 with a JSON media type, and JSON that parses. Anything else is a `JwksFetchError`. The fetch
 * stops when the app closes.
 */
export async function fetchJwks (url: URL, options: { timeoutMs: number, maxBytes: number, closing: AbortSignal }): Promise<FetchedJwks> {
  // One controller for both ends of a fetch: its deadline and the app closing. (AbortSignal.any would be
  // shorter, but on Node 20 the timeout signal it combines can be collected before it fires.)
  const controller = new AbortController()
  const abort = (): void => { controller.abort() }
  const deadline = setTimeout(abort, options.timeoutMs)
  deadline.unref()
  options.closing.addEventListener('abort', abort)
  // A fetch that starts once the app is closing has missed the event: stop it at once.
  if (options.closing.aborted) abort()
  return await download(url, controller.signal, options.maxBytes)
    .catch((error: unknown) => { throw describeFailure(error, controller.signal, options) })
    .finally(() => {
      clearTimeout(deadline)
      options.closing.removeEventListener('abort', abort)
    })
}
