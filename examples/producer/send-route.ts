import type { FastifyInstance } from 'fastify'

/** How long one delivery may take, the receiver's answer included. */
const DELIVERY_TIMEOUT_MS = 10_000
/** A receiver's error answer larger than this is not read: only its `code` is wanted. */
const MAX_PROBLEM_BYTES = 4096
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/

interface SendRequest {
  url: string
  event: Record<string, unknown>
  audience?: string
}

const sendSchema = {
  body: {
    type: 'object',
    required: ['url', 'event'],
    additionalProperties: false,
    properties: {
      url: { type: 'string', format: 'uri', pattern: '^https?://' },
      event: { type: 'object' },
      audience: { type: 'string', minLength: 1 }
    }
  }
} as const

/**
 * The receiver's error `code`, from an RFC 9457 problem body. Anything else it sent stays here: the caller
 * of /send gets the code alone, never text from another server.
 */
async function receiverErrorCode (response: Response): Promise<string | undefined> {
  const length = Number(response.headers.get('content-length'))
  const isProblem = response.headers.get('content-type')?.startsWith('application/problem+json') === true
  // Content-Length bounds what is read: the HTTP client refuses a body longer than announced.
  if (response.ok || !isProblem || !(length > 0 && length <= MAX_PROBLEM_BYTES)) {
    await response.body?.cancel()
    return undefined
  }
  const problem: unknown = await response.json().catch(() => null)
  const code = (problem as { code?: unknown } | null)?.code
  return typeof code === 'string' && ERROR_CODE.test(code) ? code : undefined
}

/**
 * `POST /send { url, event, audience? }`: signs `event` for `audience` (default: `url`, the receiver's
 * endpoint) and delivers it, once. Answers the receiver's status and error code, the webhook id and the kid.
 */
export async function sendRoute (app: FastifyInstance): Promise<void> {
  app.post<{ Body: SendRequest }>('/send', { schema: sendSchema }, async (request, reply) => {
    const { url, event, audience = url } = request.body
    const { body, headers, id, kid } = await app.webhooks.sign(event, { audience })
    const webhook = { id, kid, url }
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body,
        // A redirect would re-send the signed delivery somewhere the caller did not name: report it instead.
        redirect: 'manual',
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS)
      })
      const code = await receiverErrorCode(response)
      request.log.info({ webhook, status: response.status, code }, 'webhook sent')
      return { status: response.status, webhookId: id, kid, ...(code === undefined ? {} : { code }) }
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError'
      request.log.warn({ webhook, err: error }, 'webhook not delivered')
      return await reply.code(timedOut ? 504 : 502).send({
        webhookId: id,
        kid,
        error: timedOut ? `the receiver did not answer within ${DELIVERY_TIMEOUT_MS / 1000} s` : 'the receiver could not be reached'
      })
    }
  })
}
