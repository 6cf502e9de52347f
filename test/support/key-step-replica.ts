import { createInterface } from 'node:readline'
import Fastify from 'fastify'
import producer, { type KeyStore } from '@webhook-jwt/producer'
import { redisKeyStore } from '@webhook-jwt/redis'

// One producer replica as a process of its own, for test/redis-lease-failover.test.ts: it shares a Redis key
// store with the test's replica and starts a rotation. Its store stops at the write of the first step, with
// the lease held and the new key generated: `hang` never writes (the test SIGKILLs it there); `gate` writes
// once the test sends a line on stdin (it was paused past its lease). It reports on stdout, one JSON object
// a line. Not a test file itself.

/** What the test passes as the first argument, as JSON. */
export interface KeyStepReplicaConfig {
  mode: 'hang' | 'gate'
  redisUrl: string
  prefix: string
  keyEncryptionKey: string
  leaseTtl: number
}

const config = JSON.parse(process.argv[2] as string) as KeyStepReplicaConfig
const report = (message: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(message)}\n`) }
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()

const store = redisKeyStore({ connection: config.redisUrl, prefix: config.prefix, leaseTtl: config.leaseTtl, maxStaleness: 1 })
let stopped = false
const stopping: KeyStore = {
  ...store,
  async write (keySet, expectedRevision, lease) {
    if (!stopped) {
      stopped = true
      report({ writing: keySet.keys.map((key) => key.kid), fence: lease?.fence })
      if (config.mode === 'hang') await new Promise(() => {})
      await lines.next()
    }
    try {
      await store.write(keySet, expectedRevision, lease)
      report({ written: keySet.revision })
    } catch (error) {
      report({ refused: (error as { code: string }).code })
      throw error
    }
  }
}

const app = Fastify()
await app.register(producer, {
  issuer: 'https://sender.test',
  keyStore: stopping,
  keyEncryptionKey: config.keyEncryptionKey,
  tokenTtl: 1,
  clockSkew: 0,
  jwks: { maxAge: 1 },
  rotation: { every: false }
})
await app.ready()
report({ ready: app.webhooks.status().activeKid })
const result = await app.webhooks.rotate()
report({ rotated: result })
await app.close()
