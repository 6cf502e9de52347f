import t from 'tap'
import { memoryKeyStore } from '@webhook-jwt/producer'
import { createManualClock } from '@webhook-jwt/protocol'
import { AUDIENCE, beginRotation, buildProducer, statesOf, until } from './helpers/producer-app.ts'

const START = Date.parse('2026-01-01T00:00:00.000Z')

t.test('concurrent sign calls across a switch never yield a token under an unpublished key', async (t) => {
  const clock = createManualClock(START)
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore(), clock, tokenTtl: 300, clockSkew: 30, rotation: { every: false } })
  const { first } = await beginRotation(app)
  const pending = Array.from({ length: 200 }, async () => {
    const signed = await app.webhooks.sign({}, { audience: AUDIENCE })
    return { kid: signed.kid, stateWhenReturned: statesOf(app)[signed.kid] }
  })
  clock.advance(630_000)
  const results = await Promise.all(pending)
  await until(() => app.webhooks.status().activeKid !== first)
  t.ok(results.every((result) => result.stateWhenReturned !== 'retired' && result.stateWhenReturned !== undefined), 'every token names a published key')
  const more = await Promise.all(Array.from({ length: 50 }, async () => (await app.webhooks.sign({}, { audience: AUDIENCE })).kid))
  t.ok(more.every((kid) => kid === app.webhooks.status().activeKid), 'after the switch only the new key signs')
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
