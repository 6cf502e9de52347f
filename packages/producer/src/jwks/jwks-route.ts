import type { FastifyInstance } from 'fastify'
import { JWKS_CONTENT_TYPE } from '@webhook-jwt/protocol'
import type { SigningKeys } from '../signing-keys.ts'
import { matchesIfNoneMatch } from './jwks-document.ts'

/** Serves the published keys with the caching headers receivers rely on during a rotation. */
export function registerJwksRoute (fastify: FastifyInstance, path: string, maxAge: number, keys: SigningKeys): void {
  const cacheControl = `public, max-age=${maxAge}`
  fastify.get(path, async function serveJwks (request, reply) {
    const document = keys.jwks
    reply.header('cache-control', cacheControl).header('etag', document.etag)
    if (matchesIfNoneMatch(request.headers['if-none-match'], document.etag)) return await reply.code(304).send()
    return await reply.header('content-type', JWKS_CONTENT_TYPE).send(document.body)
  })
}
