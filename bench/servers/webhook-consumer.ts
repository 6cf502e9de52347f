// Contender (d): @webhook-jwt/consumer with its defaults (body digest required, replay check, strict
// format), from its built dist, for the algorithm under test.
import Fastify from 'fastify'
import webhookConsumer from '@webhook-jwt/consumer'
import { readChildConfig } from '../harness/child-side.ts'
import { serveOnLoopback } from './serve-on-loopback.ts'
import { ACCEPTED, WEBHOOK_PATH, type ReceiverConfig } from './receiver-config.ts'

const config = readChildConfig<ReceiverConfig>()
const app = Fastify()
await app.register(webhookConsumer, {
  issuer: config.issuer,
  jwksUrl: config.jwksUrl,
  audience: config.audience,
  algorithms: [config.algorithm]
})
app.post(WEBHOOK_PATH, { preHandler: app.verifyWebhook }, async () => ACCEPTED)
await serveOnLoopback(app)
