// Task child: the sender's CPU per delivered webhook, through app.webhooks.deliver (queue, signature,
// POST, answer classification) or through a hand-written loop of jose SignJWT + fetch with as many in
// flight as the producer allows per endpoint by default. The producer is fed in two ways: steadily (at most
// as many webhooks outstanding as it may have in flight in all, so no backlog builds), and as a burst (every
// webhook queued at once, as when events pile up for one endpoint).
import type { DeliveryOutcomeEvent } from '@webhook-jwt/producer'
import { readChildConfig, runAsTask } from '../harness/child-side.ts'
import { webhookBodyOf } from '../tokens/webhook-body.ts'
import { startBenchProducer, SENDER_ISSUER } from './bench-producer.ts'
import { handSigner } from './hand-signed-webhook.ts'

export type DeliveryWay = 'producer' | 'producer-burst' | 'hand-written'

export interface DeliveryMicroConfig {
  way: DeliveryWay
  receiverUrl: string
  webhooks: number
  /** Webhooks sent first, unmeasured, to warm the JIT and the connections up. */
  warmup: number
}

export interface DeliveryMeasure {
  way: DeliveryWay
  delivered: number
  failed: number
  webhooksPerSec: number
  cpuMicrosPerWebhook: number
}

/** The producer's default `delivery.concurrency.perEndpoint`. */
const IN_FLIGHT = 10
/** The producer's default `delivery.concurrency.total`: a steady feed keeps at most this many outstanding. */
const OUTSTANDING = 100
const TTL_SEC = 300

async function viaProducer (config: DeliveryMicroConfig, event: unknown, burst: boolean): Promise<(count: number) => Promise<{ delivered: number, failed: number }>> {
  // No retries: a failure must show as one, not as a later success. The receiver is on loopback, which
  // deliveries refuse unless it is allowed.
  const { app } = await startBenchProducer('ES256', { retry: { schedule: [] }, allowedNetworks: ['127.0.0.0/8', '::1/128'] })
  return async (count) => {
    let delivered = 0
    let failed = 0
    let queued = 0
    let settle = (): void => {}
    const done = new Promise<void>((resolve) => { settle = resolve })
    const record = (ok: boolean): void => {
      if (ok) delivered++
      else failed++
      if (delivered + failed === count) settle()
      else if (!burst && queued < count) queueNext()
    }
    function queueNext (): void {
      queued++
      app.webhooks.deliver(config.receiverUrl, event).catch(() => record(false))
    }
    const onOutcome = ({ outcome }: DeliveryOutcomeEvent): void => record(outcome === 'delivered')
    app.webhooks.on('outcome', onOutcome)
    const first = burst ? count : Math.min(OUTSTANDING, count)
    for (let i = 0; i < first; i++) queueNext()
    await done
    app.webhooks.off('outcome', onOutcome)
    return { delivered, failed }
  }
}

async function viaHand (config: DeliveryMicroConfig, event: unknown): Promise<(count: number) => Promise<{ delivered: number, failed: number }>> {
  const { app, kid, privateKey } = await startBenchProducer('ES256')
  await app.close()
  const signer = handSigner(privateKey, kid, 'ES256', SENDER_ISSUER, TTL_SEC)
  return async (count) => {
    let next = 0
    let delivered = 0
    let failed = 0
    const lane = async (): Promise<void> => {
      while (next < count) {
        next++
        const { token, body, id } = await signer.sign(event, config.receiverUrl)
        try {
          const response = await fetch(config.receiverUrl, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'webhook-id': id },
            body
          })
          await response.arrayBuffer()
          if (response.ok) delivered++
          else failed++
        } catch {
          failed++
        }
      }
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
    return { delivered, failed }
  }
}

runAsTask(async (): Promise<DeliveryMeasure> => {
  const config = readChildConfig<DeliveryMicroConfig>()
  const event: unknown = JSON.parse(webhookBodyOf(0).toString('utf8'))
  const send = config.way === 'hand-written' ? await viaHand(config, event) : await viaProducer(config, event, config.way === 'producer-burst')
  await send(config.warmup)
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const { delivered, failed } = await send(config.webhooks)
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  return { way: config.way, delivered, failed, webhooksPerSec: delivered / seconds, cpuMicrosPerWebhook: (cpu.user + cpu.system) / delivered }
})
