import t from 'tap'
import Fastify, { type FastifyReply } from 'fastify'
import producer, { memoryKeyStore, type KeyStore, type ProducerStatus, type SignedWebhook, type WebhookProducerOptions } from '@webhook-jwt/producer'

// Checked by `tsc --noEmit` (part of `pnpm test`): the public surface types what users write, and rejects
// what they must not. Each @ts-expect-error fails the type check if the line ever compiles.

t.test('the public types', async (t) => {
  const options: WebhookProducerOptions = { issuer: 'https://sender.test', keyStore: memoryKeyStore(), tokenTtl: '5m', jwks: { maxAge: 600 }, rotation: { every: false } }
  // @ts-expect-error issuer is required
  const missingIssuer: WebhookProducerOptions = { keyStore: memoryKeyStore() }
  // @ts-expect-error algorithms are a closed list
  const badAlgorithm: WebhookProducerOptions = { issuer: 'x', algorithm: 'HS256' }
  const internalReceivers: WebhookProducerOptions = { issuer: 'x', delivery: { allowedNetworks: ['10.0.0.0/8', 'fd00::/8'] } }
  // @ts-expect-error allowedNetworks is a list of networks, even for one
  const oneNetwork: WebhookProducerOptions = { issuer: 'x', delivery: { allowedNetworks: '10.0.0.0/8' } }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(producer, options)
  app.get('/latest', async (_request, reply) => {
    const sent: FastifyReply = await reply.webhook({ a: 1 }, { audience: 'https://receiver.test' })
    return sent
  })
  const signed: SignedWebhook = await app.webhooks.sign({ a: 1 }, { audience: 'https://receiver.test', id: 'evt_1' })
  // @ts-expect-error audience is required
  await t.rejects(app.webhooks.sign({}, { id: 'evt_1' }))
  const status: ProducerStatus = app.webhooks.status()
  const store: KeyStore = memoryKeyStore()
  app.webhooks.on('transition', (event) => {
    const state: 'next' | 'active' | 'retiring' | 'retired' = event.to
    t.ok(state)
  })
  app.webhooks.on('outcome', (event) => {
    const error: string | undefined = event.error
    t.ok(error ?? event.outcome)
  })
  t.ok(signed.token && status.activeKid && store.description && missingIssuer && badAlgorithm && internalReceivers && oneNetwork)
})
