import Fastify, { type FastifyInstance } from 'fastify'
import webhookProducer, { fileKeyStore, type SignedWebhook } from '@webhook-jwt/producer'
import webhookConsumer from '@webhook-jwt/consumer'
import { DemoSender } from './sender.ts'
import type { DeliveryRecord, KeySetFetchRecord, RevokeRecord, RunRecord, TransitionRecord } from './run-record.ts'

export const ISSUER = 'https://sender.demo'
export const AUDIENCE = 'https://receiver.demo/hooks'

/**
 * Windows compressed to seconds. The producer publishes a key 1.5 s (max-age + skew) before it signs, and
 * keeps the old one 4.5 s (token lifetime + skew) after; a key signs for 6 s. The 4 s lifetime leaves a
 * token captured just before the revoke unexpired when it is replayed after it.
 */
export const WINDOWS = { tokenTtl: 4, clockSkew: 0.5, jwks: { maxAge: 1 }, rotation: { every: 6 } }
/** The receiver refetches for an unknown kid at most once a second (30 s by default), to keep the run short. */
const RECEIVER_WINDOWS = { maxTokenAge: 4, clockTolerance: 0.5, jwks: { cooldown: 1 } }
/** The emergency revoke happens this long before the end, so the run shows the receiver refusing the revoked key. */
export const REVOKE_BEFORE_END_MS = 4000
const CAPTURED_TOKENS = 3
const RECEIVER_REFRESH_WAIT_MS = 3000

export interface DemoObserver {
  transition(step: TransitionRecord): void
  delivery(delivery: DeliveryRecord): void
  /** A labelled scenario step, worth a line of its own. */
  note(text: string): void
}

export interface ScenarioOptions {
  durationSec: number
  rate: number
  keyFile: string
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, Math.max(ms, 0)))

async function startProducer (keyFile: string): Promise<{ app: FastifyInstance, jwksUrl: URL }> {
  const app = Fastify()
  await app.register(webhookProducer, { issuer: ISSUER, keyStore: fileKeyStore({ path: keyFile }), ...WINDOWS })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, jwksUrl: new URL('/.well-known/jwks.json', address) }
}

async function startConsumer (jwksUrl: URL, onFetch: (kids: string[], outcome: KeySetFetchRecord['outcome']) => void): Promise<{ app: FastifyInstance, url: URL }> {
  const app = Fastify()
  await app.register(webhookConsumer, { issuer: ISSUER, jwksUrl, audience: AUDIENCE, ...RECEIVER_WINDOWS })
  app.webhookConsumer.on('keySetFetch', (event) => onFetch(event.kids, event.outcome))
  app.post('/hooks', { preHandler: app.verifyWebhook }, async () => ({ ok: true }))
  return { app, url: new URL('/hooks', await app.listen({ port: 0, host: '127.0.0.1' })) }
}

/**
 * Runs the demo: a producer and a consumer on loopback, `rate` legitimate deliveries a second for
 * `durationSec`, scheduled rotations all along, about one attack a second (an altered body, a replay), and,
 * near the end, an emergency revoke of the signing key with tokens captured under it replayed afterwards.
 */
export async function runScenario (options: ScenarioOptions, observer: DemoObserver): Promise<RunRecord> {
  const started = Date.now()
  const startedAt = new Date(started)
  const elapsed = (): number => Date.now() - started
  const durationMs = options.durationSec * 1000
  const transitions: TransitionRecord[] = []
  const deliveries: DeliveryRecord[] = []
  const keySetFetches: KeySetFetchRecord[] = []
  let revoke: RevokeRecord | null = null

  const producer = await startProducer(options.keyFile)
  const addTransition = (step: TransitionRecord): void => {
    transitions.push(step)
    observer.transition(step)
  }
  // The first key was made while the plugin registered, before a listener could be attached.
  for (const key of producer.app.webhooks.status().keys) {
    for (const step of key.transitions) addTransition({ at: step.at.getTime() - started, kid: key.kid, from: null, to: step.state, reason: step.reason })
  }
  producer.app.webhooks.on('transition', (event) => addTransition({ at: event.at.getTime() - started, kid: event.kid, from: event.from, to: event.to, reason: event.reason }))
  const consumer = await startConsumer(producer.jwksUrl, (kids, outcome) => {
    keySetFetches.push({ at: elapsed(), outcome, kids })
    if (revoke !== null && revoke.receiverDroppedAt === null && outcome === 'fetched' && !kids.includes(revoke.kid)) revoke.receiverDroppedAt = elapsed()
  })

  const sender = new DemoSender(producer.app, consumer.url, AUDIENCE, elapsed)
  const inFlight = new Set<Promise<unknown>>()
  const track = (pending: Promise<DeliveryRecord | null>): void => {
    const settled = pending.then((delivery) => {
      if (delivery === null) return
      deliveries.push(delivery)
      observer.delivery(delivery)
    }).finally(() => inFlight.delete(settled))
    inFlight.add(settled)
  }

  const emergencyRevoke = async (): Promise<void> => {
    await sleep(durationMs - REVOKE_BEFORE_END_MS - elapsed())
    // An attacker holds a few tokens signed with the key about to be revoked.
    const first = await sender.sign({ type: 'demo.captured' })
    const captured: SignedWebhook[] = [first]
    while (captured.length < CAPTURED_TOKENS) captured.push(await sender.sign({ type: 'demo.captured' }))
    observer.note(`EMERGENCY REVOKE (scenario): key ${first.kid} is declared compromised; ${CAPTURED_TOKENS} tokens signed with it are in an attacker's hands`)
    await producer.app.webhooks.revoke(first.kid)
    revoke = { at: elapsed(), kid: first.kid, receiverDroppedAt: null }
    const deadline = Date.now() + RECEIVER_REFRESH_WAIT_MS
    while (revoke.receiverDroppedAt === null && Date.now() < deadline) await sleep(50)
    observer.note(revoke.receiverDroppedAt === null
      ? `the receiver still used a key set with the revoked key ${RECEIVER_REFRESH_WAIT_MS / 1000} s after the revoke`
      : `the receiver dropped the revoked key ${((revoke.receiverDroppedAt - revoke.at) / 1000).toFixed(1)} s after the revoke; replaying the captured tokens`)
    for (const token of captured.filter((signed) => signed.kid === first.kid)) track(sender.underRevokedKey(token))
  }
  const revoked = emergencyRevoke()

  const interval = 1000 / options.rate
  const attackEvery = Math.max(1, Math.round(options.rate))
  for (let tick = 0; tick * interval < durationMs; tick++) {
    await sleep(tick * interval - elapsed())
    const event = { type: 'order.paid', order: tick, amount: 42 }
    track(sender.legitimate(event))
    if (tick % attackEvery === attackEvery - 1) track(Math.floor(tick / attackEvery) % 2 === 0 ? sender.tampered(event) : sender.replayed())
  }
  await revoked
  while (inFlight.size > 0) await Promise.all(inFlight)
  await consumer.app.close()
  await producer.app.close()
  return { startedAt, durationMs: elapsed(), rate: options.rate, transitions, deliveries, keySetFetches, revoke }
}
