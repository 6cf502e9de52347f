// Contender (c): @fastify/jwt with get-jwks, as the @fastify/jwt README's "Example using get-jwks" shows
// (decode complete, a secret function asking get-jwks for the key, jwtVerify in an onRequest hook), plus
// what a careful user adds: the issuer allowlist in get-jwks (the recipe would fetch keys from any `iss`),
// and iss, aud and the algorithm checked by fast-jwt.
import Fastify, { type FastifyRequest } from 'fastify'
import fastifyJwt, { type TokenOrHeader } from '@fastify/jwt'
import buildGetJwks from 'get-jwks'
import { readChildConfig } from '../harness/child-side.ts'
import { serveOnLoopback } from './serve-on-loopback.ts'
import { ACCEPTED, WEBHOOK_PATH, type ReceiverConfig } from './receiver-config.ts'

const config = readChildConfig<ReceiverConfig>()
const getJwks = buildGetJwks({ issuersWhitelist: [config.issuer] })

/**
 * The recipe's `const { header: { kid, alg }, payload: { iss } } = token`, typed: `decode: { complete: true }`
 * hands the secret function the whole token.
 */
async function publicKeyFor (_request: FastifyRequest, token: TokenOrHeader): Promise<string> {
  const payload: unknown = 'header' in token ? token.payload : undefined
  const iss = typeof payload === 'object' && payload !== null && 'iss' in payload ? payload.iss : undefined
  const { kid, alg } = 'header' in token ? token.header : token
  // fast-jwt turns this into an invalid-token answer.
  if (typeof kid !== 'string' || typeof iss !== 'string') throw new Error('the token has no kid or no iss')
  return await getJwks.getPublicKey({ kid, domain: iss, alg })
}

const app = Fastify()
await app.register(fastifyJwt, {
  decode: { complete: true },
  secret: publicKeyFor,
  verify: { allowedIss: config.issuer, allowedAud: config.audience, algorithms: [config.algorithm] }
})
app.addHook('onRequest', async (request, reply) => {
  try {
    await request.jwtVerify()
  } catch (err) {
    return await reply.send(err)
  }
})
app.post(WEBHOOK_PATH, async () => ACCEPTED)
await serveOnLoopback(app)
