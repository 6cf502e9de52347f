import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import consumer, { type KeySetFetchEvent, type VerificationEvent, type WebhookConsumerOptions } from '@webhook-jwt/consumer'
import { captureLogs, type LogLine } from '../../../../test/support/fastify-app.ts'
import { AUDIENCE, BODY, ISSUER } from './token-factory.ts'

interface TestContext {
  teardown(fn: () => unknown): void
}

export interface ConsumerUnderTest {
  app: FastifyInstance
  logs: LogLine[]
  verifications: VerificationEvent[]
  fetches: KeySetFetchEvent[]
  /** Requests that reached the handler. */
  handled: Array<{ webhook: unknown, body: unknown }>
}

/** A fresh consumer app with `POST /hooks` (preHandler: app.verifyWebhook), closed when the test ends. */
export async function buildConsumer (t: TestContext, jwksUrl: URL, options: { [K in keyof WebhookConsumerOptions]?: WebhookConsumerOptions[K] | undefined } = {}, routes?: (app: FastifyInstance) => void): Promise<ConsumerUnderTest> {
  const logs: LogLine[] = []
  const app = Fastify({ logger: captureLogs(logs) })
  t.teardown(() => app.close())
  const verifications: VerificationEvent[] = []
  const fetches: KeySetFetchEvent[] = []
  const handled: ConsumerUnderTest['handled'] = []
  const settings: Record<string, unknown> = { issuer: ISSUER, jwksUrl, audience: AUDIENCE, ...options }
  for (const [name, value] of Object.entries(settings)) if (value === undefined) delete settings[name]
  await app.register(consumer, settings as unknown as WebhookConsumerOptions)
  app.webhookConsumer.on('verification', (event) => verifications.push(event))
  app.webhookConsumer.on('keySetFetch', (event) => fetches.push(event))
  app.post('/hooks', { preHandler: app.verifyWebhook }, async (request) => {
    handled.push({ webhook: request.webhook, body: request.body })
    return { ok: true, id: request.webhook?.id }
  })
  routes?.(app)
  await app.ready()
  return { app, logs, verifications, fetches, handled }
}

/** POSTs a webhook to `/hooks` with `token` in the Authorization header. */
export async function deliver (app: FastifyInstance, token: string | undefined, body: string = BODY, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({
    method: 'POST',
    url: '/hooks',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers },
    payload: body
  })
}
