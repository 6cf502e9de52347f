// The JWKS baseline: a plain Fastify GET route answering a fixed JSON document (the one the producer served).
import Fastify from 'fastify'
import { readChildConfig } from '../harness/child-side.ts'
import { JWKS_PATH } from '../keys/jwks-server.ts'
import { serveOnLoopback } from './serve-on-loopback.ts'

export interface StaticJwksConfig {
  body: string
}

const { body } = readChildConfig<StaticJwksConfig>()
const app = Fastify()
app.get(JWKS_PATH, async (_request, reply) => await reply.header('content-type', 'application/jwk-set+json').send(body))
await serveOnLoopback(app)
