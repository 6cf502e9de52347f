import t from 'tap'
import underPressure from '@fastify/under-pressure'
import { memoryKeyStore, producerHealthCheck, STEP_RETRY_MS, type KeyStore } from '@webhook-jwt/producer'
import { createManualClock } from '@webhook-jwt/protocol'
import { beginRotation, buildProducer, statesOf, until } from './helpers/producer-app.ts'

const START = Date.parse('2026-01-01T00:00:00.000Z')

/** A memory store whose reads and writes can be made to fail. */
function faultyStore (): KeyStore & { failReads: boolean, failWrites: boolean } {
  const inner = memoryKeyStore()
  return {
    failReads: false,
    failWrites: false,
    description: 'faulty',
    async read () {
      if (this.failReads) throw new Error('store offline')
      return await inner.read()
    },
    async write (keySet, expectedRevision) {
      if (this.failWrites) throw new Error('disk full')
      await inner.write(keySet, expectedRevision)
    }
  }
}

t.test('under-pressure reports unhealthy when the key store cannot be read', async (t) => {
  const keyStore = faultyStore()
  const { app } = await buildProducer(t, { keyStore }, (app) => {
    app.register(underPressure, { exposeStatusRoute: true, healthCheck: producerHealthCheck })
  })
  t.equal((await app.inject('/status')).statusCode, 200)
  t.same(await app.webhooks.health(), { healthy: true, activeKid: app.webhooks.status().activeKid })
  keyStore.failReads = true
  const unhealthy = await app.inject('/status')
  t.equal(unhealthy.statusCode, 503)
  t.notMatch(unhealthy.body, /store offline/, 'no internals in the public answer')
  t.match(await app.webhooks.health(), { healthy: false, reason: 'key store unreadable: store offline' })
  keyStore.failReads = false
  t.equal((await app.inject('/status')).statusCode, 200)
})

t.test('a failing scheduled step is reported, keeps being retried, and is never skipped', async (t) => {
  const clock = createManualClock(START)
  const keyStore = faultyStore()
  const { app, logs } = await buildProducer(t, { keyStore, clock, tokenTtl: 300, clockSkew: 30, rotation: { every: false } })
  const failures: Error[] = []
  app.webhooks.on('stepFailed', (error) => failures.push(error))
  const { rotation, first } = await beginRotation(app)
  keyStore.failWrites = true
  clock.advance(630_000)
  await until(() => failures.length === 1)
  t.equal(app.webhooks.status().activeKid, first, 'no switch that was not stored')
  t.match(await app.webhooks.health(), { healthy: false, reason: 'key rotation step failing: disk full' })
  t.ok(logs.some((line) => line.msg === 'webhook key rotation step failed; it will be tried again' && line.retryInMs === STEP_RETRY_MS))
  clock.advance(STEP_RETRY_MS)
  await until(() => failures.length === 2)
  keyStore.failWrites = false
  clock.advance(STEP_RETRY_MS)
  await until(() => app.webhooks.status().activeKid !== first)
  t.match(await app.webhooks.health(), { healthy: true })
  clock.advance(330_000)
  t.match(await rotation, { previousKid: first })
})

t.test('rotate() rejects when the new key cannot be stored', async (t) => {
  const keyStore = faultyStore()
  const { app } = await buildProducer(t, { keyStore, rotation: { every: false } })
  keyStore.failWrites = true
  await t.rejects(app.webhooks.rotate(), { message: 'disk full' })
  keyStore.failWrites = false
  t.notOk(app.webhooks.status().rotationInProgress)
  const { second } = await beginRotation(app)
  t.equal(statesOf(app)[second], 'next', 'a later call starts a new rotation')
})

t.test('two producers on one store: each step is stored once, the loser re-reads and joins', async (t) => {
  const clock = createManualClock(START)
  const keyStore = memoryKeyStore()
  const options = { keyStore, clock, tokenTtl: 300, clockSkew: 30, rotation: { every: false as const } }
  const { app: a } = await buildProducer(t, options)
  const { app: b, logs } = await buildProducer(t, options)
  t.equal(a.webhooks.status().activeKid, b.webhooks.status().activeKid, 'the second producer adopts the stored key')
  const { rotation: rotationA } = await beginRotation(a)
  const rotationB = b.webhooks.rotate()
  await until(() => logs.some((line) => line.msg === 'webhook key store changed underneath; reloading it'))
  await until(() => b.webhooks.status().rotationInProgress)
  t.same(b.webhooks.status().keys.map((key) => key.kid), a.webhooks.status().keys.map((key) => key.kid), 'b joined a\'s rotation instead of starting its own')
  clock.advance(630_000)
  await until(() => Object.values(statesOf(a)).includes('retiring'))
  await new Promise((resolve) => setTimeout(resolve, 20))
  clock.advance(330_000)
  const [resultA, resultB] = await Promise.all([rotationA, rotationB])
  t.equal(resultA.activeKid, resultB.activeKid)
  t.equal((await keyStore.read())?.revision, 4, 'bootstrap, publish, switch, retire: four writes in all')
})

t.test('a store that always conflicts makes the call fail after a few attempts', async (t) => {
  const inner = memoryKeyStore()
  let conflicts = false
  const keyStore: KeyStore = {
    description: 'contended',
    read: async () => await inner.read(),
    async write (keySet, expectedRevision) {
      if (conflicts) throw Object.assign(new Error('conflict'), { code: 'WEBHOOK_KEY_STORE_CONFLICT' })
      await inner.write(keySet, expectedRevision)
    }
  }
  const { app } = await buildProducer(t, { keyStore, rotation: { every: false } })
  conflicts = true
  await t.rejects(app.webhooks.revoke(app.webhooks.status().activeKid), { code: 'WEBHOOK_KEY_STORE_CONFLICT' })
})

t.test('the key store is closed with the app', async (t) => {
  const inner = memoryKeyStore()
  let closed = 0
  const keyStore: KeyStore = { description: 'closable', read: async () => await inner.read(), write: async (keySet, revision) => await inner.write(keySet, revision), close: async () => { closed++ } }
  const { app } = await buildProducer(t, { keyStore })
  t.equal(closed, 0)
  await app.close()
  t.equal(closed, 1)
})

t.test('a step that fails while the app closes is not retried after it closed', async (t) => {
  const clock = createManualClock(START)
  const inner = memoryKeyStore()
  let failPendingWrite: ((error: Error) => void) | undefined
  let holdWrites = false
  const keyStore: KeyStore = {
    description: 'slow',
    read: async () => await inner.read(),
    async write (keySet, revision) {
      if (!holdWrites) return await inner.write(keySet, revision)
      await new Promise<void>((_resolve, reject) => { failPendingWrite = reject })
    }
  }
  const { app, logs } = await buildProducer(t, { keyStore, clock, tokenTtl: 300, clockSkew: 30, rotation: { every: false } })
  await beginRotation(app)
  holdWrites = true
  clock.advance(630_000)
  await until(() => failPendingWrite !== undefined)
  const closing = app.close()
  // Wait until close() has reached the producer's onClose hook, which waits for the step in flight, then fail that step.
  while ((await app.webhooks.health()).reason !== 'no active signing key') await new Promise((resolve) => setTimeout(resolve, 2))
  failPendingWrite?.(new Error('write interrupted'))
  await closing
  t.equal(clock.pending, 0, 'no retry armed')
  t.notOk(logs.some((line) => line.msg === 'webhook key rotation step failed; it will be tried again'))
})

t.test('a stepFailed listener that throws neither crashes the process nor stops the retries', async (t) => {
  const clock = createManualClock(START)
  const keyStore = faultyStore()
  const { app, logs } = await buildProducer(t, { keyStore, clock, tokenTtl: 300, clockSkew: 30, rotation: { every: false } })
  let failures = 0
  app.webhooks.on('stepFailed', () => {
    failures++
    throw new Error('metrics bug')
  })
  app.webhooks.on('stepFailed', async () => { throw new Error('async metrics bug') })
  const { rotation, first } = await beginRotation(app)
  keyStore.failWrites = true
  clock.advance(630_000)
  await until(() => failures === 1)
  t.equal(clock.pending, 1, 'the retry is armed')
  keyStore.failWrites = false
  clock.advance(STEP_RETRY_MS)
  await until(() => app.webhooks.status().activeKid !== first)
  clock.advance(330_000)
  t.match(await rotation, { previousKid: first })
  await until(() => logs.filter((line) => line.msg === 'a webhook producer event listener failed').length === 2)
  t.pass('both listener failures were logged')
})

t.test('while a switch is being stored, the new key already signs: the handover time is the planned one', async (t) => {
  const clock = createManualClock(START)
  const inner = memoryKeyStore()
  let release: (() => void) | undefined
  let holdWrites = false
  const keyStore: KeyStore = {
    description: 'slow',
    read: async () => await inner.read(),
    async write (keySet, revision) {
      if (holdWrites) await new Promise<void>((resolve) => { release = resolve })
      await inner.write(keySet, revision)
    }
  }
  const { app } = await buildProducer(t, { keyStore, clock, tokenTtl: 300, clockSkew: 30, rotation: { every: false } })
  const { first, second } = await beginRotation(app)
  holdWrites = true
  clock.advance(630_000)
  await until(() => release !== undefined)
  t.equal(statesOf(app)[second], 'next', 'not stored yet')
  t.equal((await app.webhooks.sign({}, { audience: 'https://receiver.test' })).kid, second, 'but the published next key signs already')
  clock.advance(10_000)
  release?.()
  await until(() => statesOf(app)[second] === 'active')
  t.same(app.webhooks.status().keys.find((key) => key.kid === first)?.next, { state: 'retired', at: new Date(START + 630_000 + 330_000) }, 'the retire wait counts from the handover')
})

t.test('a failed write hands signing back to the key that was active', async (t) => {
  const clock = createManualClock(START)
  const keyStore = faultyStore()
  const { app } = await buildProducer(t, { keyStore, clock, tokenTtl: 300, clockSkew: 30, rotation: { every: false } })
  const { first } = await beginRotation(app)
  const failures: Error[] = []
  app.webhooks.on('stepFailed', (error) => failures.push(error))
  keyStore.failWrites = true
  clock.advance(630_000)
  await until(() => failures.length === 1)
  t.equal((await app.webhooks.sign({}, { audience: 'https://receiver.test' })).kid, first)
})
