import { fetch, type Dispatcher, type Response } from 'undici'
import { networkErrorName, type Clock } from '@webhook-jwt/protocol'
import { parseRetryAfter, type AttemptAnswer } from './classify-answer.ts'

/** Only this much of an error body is read, for its problem code; the rest is never downloaded. */
export const MAX_ANSWER_BYTES = 8192
const PROBLEM_TYPE = /^application\/(?:problem\+)?json\s*(?:;|$)/i

export interface AttemptRequest {
  url: string
  headers: Record<string, string>
  body: Buffer
  timeoutMs: number
  clock: Clock
  /** Aborts the attempt when the producer closes. */
  closing: AbortSignal
  /** Makes the connections: `guardedAgent()`, which refuses destinations that are not public. */
  agent: Dispatcher
}

/** Drops a body unread (a 204 has none). */
async function discard (response: Response): Promise<undefined> {
  await response.body?.cancel()
  return undefined
}

/** The receiver's problem code, from a small JSON error body; `undefined` for anything else. */
async function problemCode (response: Response): Promise<string | undefined> {
  if (!PROBLEM_TYPE.test(response.headers.get('content-type') ?? '')) return await discard(response)
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength
    // Leaving the loop early cancels the stream: a huge body is never read.
    if (total > MAX_ANSWER_BYTES) return undefined
    chunks.push(chunk)
  }
  try {
    const code = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: unknown } | null)?.code
    return typeof code === 'string' ? code : undefined
  } catch {
    return undefined
  }
}

/**
 * One POST of a signed delivery: only to an address the agent allows, no redirects followed (a signed
 * delivery goes only where it was addressed), a deadline that covers the answer's body, and an answer reduced to what the retry decision
 * needs. Never throws.
 */
export async function sendAttempt (request: AttemptRequest): Promise<AttemptAnswer> {
  const controller = new AbortController()
  let timedOut = false
  const timer = request.clock.setTimeout(() => {
    timedOut = true
    controller.abort()
  }, request.timeoutMs)
  const onClosing = (): void => controller.abort()
  request.closing.addEventListener('abort', onClosing)
  // Closed while this attempt was being signed: it must not run on until its own timeout.
  if (request.closing.aborted) onClosing()
  const answer = fetch(request.url, { method: 'POST', headers: { 'user-agent': '@webhook-jwt/producer', ...request.headers }, body: request.body, redirect: 'manual', signal: controller.signal, dispatcher: request.agent })
    .then(async (response): Promise<AttemptAnswer> => {
      const code = response.status >= 200 && response.status < 300 ? await discard(response) : await problemCode(response)
      return { kind: 'response', status: response.status, code, retryAfterSec: parseRetryAfter(response.headers.get('retry-after'), request.clock.now()) }
    })
    .catch((error: unknown): AttemptAnswer => {
      const cause = (error as { cause?: { code?: unknown } }).cause
      if (cause?.code === 'WEBHOOK_DESTINATION_FORBIDDEN') return { kind: 'forbidden', reason: cause as Error }
      return timedOut ? { kind: 'timeout' } : { kind: 'network', error: networkErrorName(error) }
    })
  return await answer.finally(() => {
    request.clock.clearTimeout(timer)
    request.closing.removeEventListener('abort', onClosing)
  })
}
