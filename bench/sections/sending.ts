import type { SigningAlgorithm } from '@webhook-jwt/protocol'
import { ALGORITHMS, type BenchSettings } from '../harness/bench-options.ts'
import { runTask, startServer } from '../harness/child-processes.ts'
import type { DeliveryMeasure, DeliveryMicroConfig, DeliveryWay } from '../micro/delivery-micro.ts'
import type { Concurrency, OpsMeasure } from '../micro/measure-ops.ts'
import type { SignMicroConfig, SignWay, SignWayMeasure } from '../micro/sign-micro.ts'
import { WEBHOOK_PATH } from '../servers/receiver-config.ts'
import { runJwksRoutes, type JwksResult } from './jwks-routes.ts'

/** app.webhooks.sign and the hand-written jose signature, for one algorithm and concurrency. */
export interface SignMeasure {
  algorithm: SigningAlgorithm
  concurrency: Concurrency
  producer: OpsMeasure
  jose: OpsMeasure
}

export interface SendingSection {
  sign: SignMeasure[]
  jwks: JwksResult[]
  delivery: DeliveryMeasure[]
}

const SIGN_MICRO = new URL('../micro/sign-micro.ts', import.meta.url)
const DELIVERY_MICRO = new URL('../micro/delivery-micro.ts', import.meta.url)
const BARE_RECEIVER = new URL('../servers/bare-route.ts', import.meta.url)
const TASK_TIMEOUT_MS = 10 * 60_000
/**
 * Webhooks queued at once in the burst run, the same in both modes: the memory queue's cost per attempt
 * grows with its backlog, so a larger burst would only take longer.
 */
export const BURST = 1_000

export function deliveryLabel (way: DeliveryWay): string {
  switch (way) {
    case 'producer': return 'app.webhooks.deliver, steady feed (≤ 100 outstanding)'
    case 'producer-burst': return `app.webhooks.deliver, burst (${BURST.toLocaleString('en')} queued at once)`
    case 'hand-written': return 'jose SignJWT + fetch, by hand (10 in flight)'
  }
}

/** The sender's CPU per delivered webhook, each way in its own process, to its own fresh bare receiver. */
async function runDelivery (settings: BenchSettings): Promise<DeliveryMeasure[]> {
  const measures: DeliveryMeasure[] = []
  for (const way of ['producer', 'hand-written', 'producer-burst'] as const satisfies readonly DeliveryWay[]) {
    const receiver = await startServer(BARE_RECEIVER, {})
    try {
      const webhooks = way === 'producer-burst' ? BURST : settings.deliveries
      const config: DeliveryMicroConfig = { way, receiverUrl: `${receiver.url}${WEBHOOK_PATH}`, webhooks, warmup: Math.ceil(webhooks / 5) }
      measures.push(await runTask<DeliveryMeasure>(DELIVERY_MICRO, config, TASK_TIMEOUT_MS))
    } finally {
      await receiver.stop()
    }
  }
  return measures
}

/** Each way of signing in its own process, the same algorithms in the same order. */
async function runSign (settings: BenchSettings): Promise<SignMeasure[]> {
  const byWay = new Map<SignWay, SignWayMeasure[]>()
  for (const way of ['producer', 'jose'] as const) {
    byWay.set(way, await runTask<SignWayMeasure[]>(SIGN_MICRO, { way, algorithms: [...ALGORITHMS], schedule: settings.micro } satisfies SignMicroConfig, TASK_TIMEOUT_MS))
  }
  return (byWay.get('producer') ?? []).map((producer, index) => {
    const jose = byWay.get('jose')?.[index]
    if (jose === undefined || jose.algorithm !== producer.algorithm || jose.concurrency !== producer.concurrency) throw new Error('the two signing runs do not line up')
    return { algorithm: producer.algorithm, concurrency: producer.concurrency, producer: producer.measure, jose: jose.measure }
  })
}

export async function runSending (settings: BenchSettings, log: (line: string) => void): Promise<SendingSection> {
  const sign = await runSign(settings)
  for (const measure of sign) {
    log(`  sign ${measure.algorithm} ${measure.concurrency === 'sequential' ? 'seq' : `${measure.concurrency} in flight`}: producer ${Math.round(measure.producer.opsPerSec)} ops/s [${measure.producer.cpuMicrosPerOp.toFixed(0)} µs], jose ${Math.round(measure.jose.opsPerSec)} ops/s [${measure.jose.cpuMicrosPerOp.toFixed(0)} µs]`)
  }
  const jwks = await runJwksRoutes(settings, log)
  const delivery = await runDelivery(settings)
  for (const measure of delivery) log(`  ${deliveryLabel(measure.way)}: ${Math.round(measure.webhooksPerSec)} webhooks/s, ${measure.cpuMicrosPerWebhook.toFixed(0)} µs CPU each, ${measure.failed} failed`)
  return { sign, jwks, delivery }
}
