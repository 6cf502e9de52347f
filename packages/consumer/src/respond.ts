import type { FastifyReply } from 'fastify'
import { PROBLEM_CONTENT_TYPE, receiverProblem } from '@webhook-jwt/protocol'
import type { WebhookVerificationError } from './errors.ts'

/**
 * Answers a refused webhook as the protocol says: problem details with the stable code and fixed text,
 * `WWW-Authenticate` on 401, `Retry-After` on 503, neither on 400 (the request's form is wrong, not its
 * credentials, and it will stay wrong). Nothing from the request or from internals is echoed.
 */
export async function sendRefusal (reply: FastifyReply, error: WebhookVerificationError): Promise<FastifyReply> {
  const problem = receiverProblem(error.code)
  if (error.statusCode === 401) reply.header('www-authenticate', `Bearer error="invalid_token", error_description="${problem.title}"`)
  if (error.statusCode === 503) reply.header('retry-after', String(error.retryAfter))
  // Bytes, so the media type goes out exactly as registered (a string would get a charset appended).
  return await reply.code(error.statusCode).header('content-type', PROBLEM_CONTENT_TYPE).send(Buffer.from(JSON.stringify(problem)))
}
