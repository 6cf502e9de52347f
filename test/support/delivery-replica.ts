import Fastify from 'fastify'
import producer, { fileKeyStore } from '@webhook-jwt/producer'
import { bullmqDeliveryQueue } from '@webhook-jwt/redis'

// One producer replica as a process of its own, for test/redis-delivery-failover.test.ts: it shares the key
// file and the BullMQ queue with the other replicas, queues one webhook, and reports on stdout, one JSON
// object a line. The test SIGKILLs it. Not a test file itself.

/** What the test passes as the first argument, as JSON. */
export interface ReplicaConfig {
  issuer: string
  keyFile: string
  redisUrl: string
  prefix: string
  lockDuration: number
  url: string
  audience: string
  event: unknown
}

const config = JSON.parse(process.argv[2] as string) as ReplicaConfig
const report = (message: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(message)}\n`) }

const app = Fastify()
await app.register(producer, {
  issuer: config.issuer,
  keyStore: fileKeyStore({ path: config.keyFile }),
  rotation: { every: false },
  delivery: { queue: bullmqDeliveryQueue({ connection: config.redisUrl, prefix: config.prefix, lockDuration: config.lockDuration }), pollInterval: 0.1, allowedNetworks: ['127.0.0.0/8', '::1/128'] }
})
app.webhooks.on('attempt', (event) => report({ attempt: event }))
await app.ready()
const { id } = await app.webhooks.deliver(config.url, config.event, { audience: config.audience })
report({ queued: id })
