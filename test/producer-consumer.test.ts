import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import producer, { memoryKeyStore } from '@webhook-jwt/producer'
import consumer, { type VerifiedWebhook } from '@webhook-jwt/consumer'

// Both plugins, real HTTP on loopback: the producer's tokens verify at the consumer, through a rotation.

const ISSUER = 'https://sender.test'

async function startConsumer (t: Tap, jwksUrl: URL, received: VerifiedWebhook[]): Promise<URL> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(consumer, { issuer: ISSUER, jwksUrl, audience: 'https://receiver.test/hooks', maxTokenAge: 2, clockTolerance: 0.5 })
  app.post('/hooks', { preHandler: app.verifyWebhook }, async (request) => {
    received.push(request.webhook as VerifiedWebhook)
    return { ok: true }
  })
  return new URL('/hooks', await app.listen({ port: 0, host: '127.0.0.1' }))
}

interface Tap { teardown(fn: () => unknown): void }

async function send (sender: FastifyInstance, url: URL, event: unknown, id: string): Promise<Response> {
  const { body, headers } = await sender.webhooks.sign(event, { audience: 'https://receiver.test/hooks', id })
  return await fetch(url, { method: 'POST', headers, body })
}

t.test('tokens from @webhook-jwt/producer verify at @webhook-jwt/consumer, before, during and after a rotation', async (t) => {
  const sender = Fastify()
  t.teardown(() => sender.close())
  await sender.register(producer, { issuer: ISSUER, keyStore: memoryKeyStore(), tokenTtl: 2, clockSkew: 0.5, jwks: { maxAge: 1 }, rotation: { every: false } })
  const jwksUrl = new URL('/.well-known/jwks.json', await sender.listen({ port: 0, host: '127.0.0.1' }))
  const received: VerifiedWebhook[] = []
  const hooks = await startConsumer(t, jwksUrl, received)
  const first = sender.webhooks.status().activeKid
  t.equal((await send(sender, hooks, { n: 0 }, 'evt_0')).status, 200)
  const progress = { rotated: false }
  const rotation = sender.webhooks.rotate().finally(() => { progress.rotated = true })
  let n = 1
  while (!progress.rotated) {
    const response = await send(sender, hooks, { n }, `evt_${n}`)
    t.equal(response.status, 200, `delivery ${n} during the rotation`)
    n++
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const { activeKid } = await rotation
  t.equal((await send(sender, hooks, { n }, `evt_${n}`)).status, 200)
  t.same(new Set(received.map((webhook) => webhook.kid)), new Set([first, activeKid]), 'both keys signed deliveries that verified')
  t.equal(received.length, n + 1)
  t.ok(n > 30, `${n} deliveries while the rotation ran`)
  t.same(received.map((webhook) => webhook.id), Array.from({ length: n + 1 }, (_, i) => `evt_${i}`))
})
