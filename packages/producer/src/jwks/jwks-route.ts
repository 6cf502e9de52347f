import type { FastifyInstance } from 'fastify'
import { JWKS_CONTENT_TYPE } from '@webhook-jwt/protocol'
import type { SigningKeys } from '../signing-keys.ts'
import { matchesIfNoneMatch } from './jwks-document.ts'

/** Seconds a receiver is asked to wait when the key set cannot be served. */
const STALE_RETRY_AFTER_SEC = 5

/** Serves the published keys with the caching headers receivers rely on during a rotation. */
export function registerJwksRoute (fastify: FastifyInstance, path: string, maxAge: number, keys: SigningKeys): void {
  const cacheControl = `public, max-age=${maxAge}`
  fastify.get(path, async function serveJwks (request, reply) {
    // A key set that could not be confirmed for too long (WEBHOOK_KEY_SET_STALE) is answered 503: receivers
    // keep the set they cached and try again, rather than cache one that may lack a newly published key.
    let document
    try {
      document = keys.jwks
    } catch (error) {
      reply.header('retry-after', String(STALE_RETRY_AFTER_SEC))
      throw error
    }
    reply.header('cache-control', cacheControl).header('etag', document.etag)
    if (matchesIfNoneMatch(request.headers['if-none-match'], document.etag)) return await reply.code(304).send()
    return await reply.header('content-type', JWKS_CONTENT_TYPE).send(document.body)
  })
}
