import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import webhookProducer, { memoryKeyStore, type DeliveryOptions } from '@webhook-jwt/producer'
import type { SigningAlgorithm } from '@webhook-jwt/protocol'

export const SENDER_ISSUER = 'https://sender.bench.invalid'

/** A producer app with its keys in memory, and its active signing key, so a hand-written sender can use the same one. */
export interface BenchProducer {
  app: FastifyInstance
  kid: string
  privateKey: KeyObject
}

export async function startBenchProducer (algorithm: SigningAlgorithm, delivery?: DeliveryOptions): Promise<BenchProducer> {
  const keyStore = memoryKeyStore()
  const app = Fastify()
  await app.register(webhookProducer, { issuer: SENDER_ISSUER, keyStore, algorithm, ...(delivery === undefined ? {} : { delivery }) })
  await app.ready()
  const stored = await keyStore.read()
  const active = stored?.keys.find((key) => key.state === 'active')
  if (active?.privateKey?.format !== 'jwk') throw new Error('the producer stored no plain active key')
  return { app, kid: active.kid, privateKey: createPrivateKey({ key: active.privateKey.jwk as JsonWebKey, format: 'jwk' }) }
}
