// Task child: app.webhooks.sign against the same signature written by hand with jose's SignJWT and the
// same key, sequentially and with 64 in flight, per algorithm.
import type { SigningAlgorithm } from '@webhook-jwt/protocol'
import { readChildConfig, runAsTask } from '../harness/child-side.ts'
import type { MicroSchedule } from '../harness/bench-options.ts'
import { webhookBodyOf } from '../tokens/webhook-body.ts'
import { startBenchProducer, SENDER_ISSUER } from './bench-producer.ts'
import { handSigner } from './hand-signed-webhook.ts'
import { measureOps, type Concurrency, type OpsMeasure } from './measure-ops.ts'

export interface SignMicroConfig {
  algorithms: SigningAlgorithm[]
  schedule: MicroSchedule
}

export interface SignMeasure {
  algorithm: SigningAlgorithm
  concurrency: Concurrency
  producer: OpsMeasure
  jose: OpsMeasure
}

const AUDIENCE = 'https://receiver.bench.invalid/hooks'
/** The producer's default token lifetime. */
const TTL_SEC = 300

runAsTask(async () => {
  const { algorithms, schedule } = readChildConfig<SignMicroConfig>()
  const event: unknown = JSON.parse(webhookBodyOf(0).toString('utf8'))
  const measures: SignMeasure[] = []
  for (const algorithm of algorithms) {
    const { app, kid, privateKey } = await startBenchProducer(algorithm)
    const jose = handSigner(privateKey, kid, algorithm, SENDER_ISSUER, TTL_SEC)
    for (const concurrency of ['sequential', 64] as const) {
      measures.push({
        algorithm,
        concurrency,
        producer: await measureOps(async () => await app.webhooks.sign(event, { audience: AUDIENCE }), concurrency, schedule),
        jose: await measureOps(async () => await jose.sign(event, AUDIENCE), concurrency, schedule)
      })
    }
    await app.close()
  }
  return measures
})
