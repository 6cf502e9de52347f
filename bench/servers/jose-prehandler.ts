// Contender (b), the baseline: the preHandler a user would write with jose, checking iss, aud and the
// algorithm against a remote key set that jose caches (createRemoteJWKSet, created once).
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose'
import { readChildConfig } from '../harness/child-side.ts'
import { serveOnLoopback } from './serve-on-loopback.ts'
import { ACCEPTED, WEBHOOK_PATH, type ReceiverConfig } from './receiver-config.ts'

declare module 'fastify' {
  interface FastifyRequest {
    webhookClaims: JWTPayload | null
  }
}

const config = readChildConfig<ReceiverConfig>()
const keySet = createRemoteJWKSet(new URL(config.jwksUrl))

async function verifyWebhookJwt (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const authorization = request.headers.authorization
  if (authorization?.startsWith('Bearer ') !== true) return await reply.code(401).send({ error: 'missing token' })
  try {
    const { payload } = await jwtVerify(authorization.slice('Bearer '.length), keySet, {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: [config.algorithm]
    })
    request.webhookClaims = payload
  } catch {
    return await reply.code(401).send({ error: 'invalid token' })
  }
  return undefined
}

const app = Fastify()
app.decorateRequest('webhookClaims', null)
app.post(WEBHOOK_PATH, { preHandler: verifyWebhookJwt }, async () => ACCEPTED)
await serveOnLoopback(app)
