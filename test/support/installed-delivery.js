// One delivery from the installed @webhook-jwt/producer to the installed @webhook-jwt/consumer, both on
// 127.0.0.1, port 0. test/packed-packages.test.ts copies this file into a project that installed the packed
// tarballs with npm and runs it there with node, so every import below is what an npm user gets. It prints
// one JSON line: how the delivery ended, what the receiver's handler got, and where the packages resolved.
// argv[2]: the producer's `delivery` options, as JSON.
import Fastify from 'fastify'
import webhookProducer, { memoryKeyStore } from '@webhook-jwt/producer'
import webhookConsumer from '@webhook-jwt/consumer'

const AUDIENCE = 'https://receiver.test/hooks'
const ISSUER = 'https://sender.test'
const TIMEOUT_MS = 10_000

const producer = Fastify()
await producer.register(webhookProducer, { issuer: ISSUER, keyStore: memoryKeyStore(), delivery: JSON.parse(process.argv[2] ?? '{}') })
const producerUrl = await producer.listen({ host: '127.0.0.1', port: 0 })

const consumer = Fastify()
await consumer.register(webhookConsumer, { issuer: ISSUER, jwksUrl: `${producerUrl}/.well-known/jwks.json`, audience: AUDIENCE })
let received = null
consumer.post('/hooks', { config: { webhook: true } }, async (request) => {
  received = { webhook: request.webhook, body: request.body }
  return { ok: true }
})
const consumerUrl = await consumer.listen({ host: '127.0.0.1', port: 0 })

// `delivered` comes with the receiver's 2xx, which its handler answers: by then `received` is set.
const outcome = new Promise((resolve) => producer.webhooks.on('outcome', resolve))
const { id } = await producer.webhooks.deliver(`${consumerUrl}/hooks`, { type: 'order.paid', order: 'o_1' }, { audience: AUDIENCE })
let timer
const ended = await Promise.race([
  outcome,
  new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`no outcome within ${TIMEOUT_MS} ms`)), TIMEOUT_MS) })
])
clearTimeout(timer)
const activeKid = producer.webhooks.status().activeKid
await Promise.all([producer.close(), consumer.close()])

console.log(JSON.stringify({
  id,
  activeKid,
  outcome: ended,
  received,
  resolved: ['@webhook-jwt/producer', '@webhook-jwt/consumer'].map((name) => import.meta.resolve(name))
}))
