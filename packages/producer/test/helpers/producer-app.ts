import Fastify, { type FastifyInstance } from 'fastify'
import producer, { type KeyTransitionEvent, type RotationResult, type WebhookProducerOptions } from '@webhook-jwt/producer'
import { captureLogs, startupError as registrationError, type LogLine } from '../../../../test/support/fastify-app.ts'

export const ISSUER = 'https://sender.test'
export const AUDIENCE = 'https://receiver.test/hooks'
/** `delivery.allowedNetworks` for tests: their receivers listen on loopback, which deliveries refuse by default. */
export const LOOPBACK_NETWORKS = ['127.0.0.0/8', '::1/128']

interface TestContext {
  teardown(fn: () => unknown): void
}

export type { LogLine }

export interface ProducerUnderTest {
  app: FastifyInstance
  logs: LogLine[]
  transitions: KeyTransitionEvent[]
}

/** A fresh, ready producer app that logs into an array and closes when the test ends. */
export async function buildProducer (t: TestContext, options: Partial<WebhookProducerOptions> = {}, routes?: (app: FastifyInstance) => void): Promise<ProducerUnderTest> {
  const logs: LogLine[] = []
  // RSA-4096 generation at registration can outlast the default 10 s plugin timeout on a loaded machine.
  const app = Fastify({ logger: captureLogs(logs), pluginTimeout: 60_000 })
  t.teardown(() => app.close())
  const transitions: KeyTransitionEvent[] = []
  await app.register(producer, { issuer: ISSUER, ...options })
  app.webhooks.on('transition', (event) => transitions.push(event))
  routes?.(app)
  await app.ready()
  return { app, logs, transitions }
}

/** Listens on a loopback port and returns the JWKS URL. */
export async function listen (app: FastifyInstance, path = '/.well-known/jwks.json'): Promise<URL> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return new URL(path, address)
}

/** Waits, on the real clock, until `condition` holds; fails after `timeoutMs`. */
export async function until (condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

/** The states of every key, by kid, for compact assertions. */
export function statesOf (app: FastifyInstance): Record<string, string> {
  return Object.fromEntries(app.webhooks.status().keys.map((key) => [key.kid, key.state]))
}

/** The kids in the JWKS the app serves right now. */
export async function publishedKids (app: FastifyInstance): Promise<string[]> {
  const response = await app.inject('/.well-known/jwks.json')
  return (response.json() as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid)
}

/** Registers a producer with `options` and returns the error that stopped it starting, or undefined. */
export async function startupError (options: Record<string, unknown>): Promise<unknown> {
  return await registrationError(async (app) => await app.register(producer, { issuer: ISSUER, ...options } as WebhookProducerOptions))
}

/** Starts a rotation and waits until its new key is published. */
export async function beginRotation (app: FastifyInstance): Promise<{ rotation: Promise<RotationResult>, first: string, second: string }> {
  const first = app.webhooks.status().activeKid
  const rotation = app.webhooks.rotate()
  await until(() => app.webhooks.status().rotationInProgress)
  const second = Object.keys(statesOf(app)).find((kid) => kid !== first) as string
  return { rotation, first, second }
}
