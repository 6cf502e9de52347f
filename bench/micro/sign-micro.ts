// Task child: app.webhooks.sign, or the same signature written by hand with jose's SignJWT and the
// producer's own key, sequentially and with 64 in flight, per algorithm. Each way runs in its own process:
// measured one after the other in one process, the second was favoured (by up to 25% with 64 in flight).
import type { SigningAlgorithm } from '@webhook-jwt/protocol'
import { readChildConfig, runAsTask } from '../harness/child-side.ts'
import type { MicroSchedule } from '../harness/bench-options.ts'
import { webhookBodyOf } from '../tokens/webhook-body.ts'
import { startBenchProducer, SENDER_ISSUER } from './bench-producer.ts'
import { handSigner } from './hand-signed-webhook.ts'
import { measureOps, type Concurrency, type OpsMeasure } from './measure-ops.ts'

export type SignWay = 'producer' | 'jose'

export interface SignMicroConfig {
  way: SignWay
  algorithms: SigningAlgorithm[]
  schedule: MicroSchedule
}

export interface SignWayMeasure {
  algorithm: SigningAlgorithm
  concurrency: Concurrency
  measure: OpsMeasure
}

const AUDIENCE = 'https://receiver.bench.invalid/hooks'
/** The producer's default token lifetime. */
const TTL_SEC = 300

runAsTask(async (): Promise<SignWayMeasure[]> => {
  const { way, algorithms, schedule } = readChildConfig<SignMicroConfig>()
  const event: unknown = JSON.parse(webhookBodyOf(0).toString('utf8'))
  const measures: SignWayMeasure[] = []
  for (const algorithm of algorithms) {
    const { app, kid, privateKey } = await startBenchProducer(algorithm)
    const jose = handSigner(privateKey, kid, algorithm, SENDER_ISSUER, TTL_SEC)
    const sign = way === 'producer'
      ? async () => await app.webhooks.sign(event, { audience: AUDIENCE })
      : async () => await jose.sign(event, AUDIENCE)
    for (const concurrency of ['sequential', 64] as const) {
      measures.push({ algorithm, concurrency, measure: await measureOps(sign, concurrency, schedule) })
    }
    await app.close()
  }
  return measures
})
