import t from 'tap'
import { memoryKeyStore } from '@webhook-jwt/producer'
import { createManualClock } from '@webhook-jwt/protocol'
import { AUDIENCE, beginRotation, buildProducer, statesOf, until } from './helpers/producer-app.ts'

const START = Date.parse('2026-01-01T00:00:00.000Z')

t.test('signatures in flight across a switch and a retirement never return a token under an unpublished key', async (t) => {
  const clock = createManualClock(START)
  // RSA-4096 signatures take milliseconds each on the thread pool, so hundreds stay in flight while the
  // switch and the retirement of the key they started with are stored.
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore(), clock, algorithm: 'RS256', rsaModulusLength: 4096, tokenTtl: 300, clockSkew: 30, rotation: { every: false } })
  const { first, second } = await beginRotation(app)
  const pending = Array.from({ length: 300 }, async () => {
    const signed = await app.webhooks.sign({}, { audience: AUDIENCE })
    return { kid: signed.kid, stateWhenReturned: statesOf(app)[signed.kid] }
  })
  clock.advance(630_000)
  await until(() => statesOf(app)[second] === 'active')
  clock.advance(330_000)
  await until(() => statesOf(app)[first] === 'retired')
  const results = await Promise.all(pending)
  t.ok(results.every((result) => result.stateWhenReturned === 'active' || result.stateWhenReturned === 'retiring'), 'every token names a published key')
  // Every call started with the old key; those that returned the new one finished after the old key retired.
  t.ok(results.filter((result) => result.kid === second).length > 0, 'signatures that outlived the old key were made again with the new one')
})

t.test('a key revoked while signatures are being computed: those deliveries are signed again with its replacement', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore(), rotation: { every: false } })
  const { first, second } = await beginRotation(app)
  // With a published next key to hand over to, the revoke lands within a few microtasks, while these
  // signatures are still being computed on the thread pool.
  const pending = Array.from({ length: 100 }, async () => {
    const signed = await app.webhooks.sign({ n: 1 }, { audience: AUDIENCE })
    return { kid: signed.kid, stateWhenReturned: statesOf(app)[signed.kid] }
  })
  await app.webhooks.revoke(first)
  const results = await Promise.all(pending)
  t.ok(results.every((result) => result.stateWhenReturned === 'active'), 'every returned token names the key that signs now')
  t.ok(results.every((result) => result.kid === second), 'all were signed again with the replacement')
})
