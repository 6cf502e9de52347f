// Contender (a), the ceiling: Fastify parses the JSON body and answers; no token is looked at.
import Fastify from 'fastify'
import { serveOnLoopback } from './serve-on-loopback.ts'
import { ACCEPTED, WEBHOOK_PATH } from './receiver-config.ts'

const app = Fastify()
app.post(WEBHOOK_PATH, async () => ACCEPTED)
await serveOnLoopback(app)
