import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import producer, { type WebhookProducerOptions } from '@webhook-jwt/producer'
import consumer, { type VerifiedWebhook, type WebhookConsumerOptions } from '@webhook-jwt/consumer'

// A sender and a receiver on loopback, real HTTP and real clocks, for the end-to-end scenarios. The receiver
// fetches the sender's JWKS through a proxy that a test can take down, to play an outage of the key endpoint
// while the sender keeps signing.

export const ISSUER = 'https://sender.test'
export const AUDIENCE = 'https://receiver.test/hooks'

interface TestContext { teardown(fn: () => unknown): void }

export interface Sender {
  app: FastifyInstance
  port: number
  jwksUrl: URL
}

export async function startSender (t: TestContext, options: Partial<WebhookProducerOptions>, port = 0): Promise<Sender> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(producer, { issuer: ISSUER, ...options } as WebhookProducerOptions)
  const address = new URL(await app.listen({ port, host: '127.0.0.1' }))
  return { app, port: Number(address.port), jwksUrl: new URL('/.well-known/jwks.json', address) }
}

/** An HTTP proxy for the JWKS that can be switched off: then it drops every connection. */
export interface JwksProxy {
  url: URL
  up: boolean
  /** Where requests go; a function picks a target per request (a round-robin balancer, say). */
  target: URL | (() => URL)
}

export async function startJwksProxy (t: TestContext, target: URL | (() => URL)): Promise<JwksProxy> {
  const proxy: JwksProxy = { url: new URL('http://127.0.0.1/'), up: true, target }
  const server: Server = createServer((request, response) => {
    if (!proxy.up) {
      request.socket.destroy()
      return
    }
    fetch(typeof proxy.target === 'function' ? proxy.target() : proxy.target).then(async (upstream) => {
      response.writeHead(upstream.status, Object.fromEntries(upstream.headers))
      response.end(Buffer.from(await upstream.arrayBuffer()))
    }, () => request.socket.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  proxy.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`)
  return proxy
}

export interface Receiver {
  app: FastifyInstance
  url: URL
  received: VerifiedWebhook[]
}

/** A receiver on loopback; `handle`, if given, answers in place of the default 200 (after the webhook is recorded). */
export async function startReceiver (t: TestContext, jwksUrl: URL, options: Partial<WebhookConsumerOptions> = {}, handle?: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>): Promise<Receiver> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(consumer, { issuer: ISSUER, jwksUrl, audience: AUDIENCE, ...options } as WebhookConsumerOptions)
  const received: VerifiedWebhook[] = []
  app.post('/hooks', { preHandler: app.verifyWebhook }, async (request, reply) => {
    received.push(request.webhook as VerifiedWebhook)
    return handle === undefined ? { ok: true } : await handle(request, reply)
  })
  return { app, url: new URL('/hooks', await app.listen({ port: 0, host: '127.0.0.1' })), received }
}

/** One delivery attempt: signed now, posted, answered. */
export interface Delivery {
  status: number
  code: string | undefined
  retryAfter: string | null
  kid: string
}

export async function deliver (sender: FastifyInstance, receiver: URL, event: unknown = { type: 'ping' }): Promise<Delivery> {
  const { body, headers, kid } = await sender.webhooks.sign(event, { audience: AUDIENCE })
  const response = await fetch(receiver, { method: 'POST', headers, body })
  const text = await response.text()
  const code = response.status === 200 ? undefined : (JSON.parse(text) as { code: string }).code
  return { status: response.status, code, retryAfter: response.headers.get('retry-after'), kid }
}

/** Sends from `workers` loops at once until `done()` says stop; returns every delivery. */
export async function traffic (send: () => Promise<Delivery>, done: () => boolean, workers = 8): Promise<Delivery[]> {
  const deliveries: Delivery[] = []
  await Promise.all(Array.from({ length: workers }, async () => {
    while (!done()) deliveries.push(await send())
  }))
  return deliveries
}
