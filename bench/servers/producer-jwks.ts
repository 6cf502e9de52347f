// The producer's JWKS route as a producer app serves it: keys in a memoryKeyStore, default options.
import Fastify from 'fastify'
import webhookProducer, { memoryKeyStore } from '@webhook-jwt/producer'
import { serveOnLoopback } from './serve-on-loopback.ts'

const PRODUCER_ISSUER = 'https://sender.bench.invalid'

const app = Fastify()
await app.register(webhookProducer, { issuer: PRODUCER_ISSUER, keyStore: memoryKeyStore() })
await serveOnLoopback(app)
