import t from 'tap'
import { memoryKeyStore } from '@webhook-jwt/producer'
import { createManualClock } from '@webhook-jwt/protocol'
import { AUDIENCE, beginRotation, buildProducer, publishedKids, statesOf, until } from './helpers/producer-app.ts'

const START = Date.parse('2026-01-01T00:00:00.000Z')
// tokenTtl 300 + clockSkew 30 → retireAfter 330 s; jwks.maxAge 600 + clockSkew 30 → publishLead 630 s.
const WINDOWS = { tokenTtl: 300, clockSkew: 30, jwks: { maxAge: 600 } }
const PUBLISH_LEAD = 630_000
const RETIRE_AFTER = 330_000

/** Lets queued work that does not depend on the clock finish, on the real clock. */
async function settle (): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 20))
}

t.test('rotate(): publish, wait publishLead, switch, wait retireAfter, retire', async (t) => {
  const clock = createManualClock(START)
  const { app, transitions, logs } = await buildProducer(t, { ...WINDOWS, keyStore: memoryKeyStore(), clock, rotation: { every: false } })
  const first = app.webhooks.status().activeKid
  const rotation = app.webhooks.rotate()
  t.equal(app.webhooks.rotate(), rotation, 'a second call returns the running rotation')

  await until(() => Object.keys(statesOf(app)).length === 2)
  const second = Object.keys(statesOf(app)).find((kid) => kid !== first) as string
  t.same(statesOf(app), { [first]: 'active', [second]: 'next' })
  t.same(await publishedKids(app), [first, second], 'published before it signs')
  t.equal((await app.webhooks.sign({}, { audience: AUDIENCE })).kid, first, 'the old key still signs')
  t.match(app.webhooks.status(), { rotationInProgress: true, nextRotationAt: null, keys: [{ kid: first }, { kid: second, next: { state: 'active', at: new Date(START + PUBLISH_LEAD) } }] })

  clock.advance(PUBLISH_LEAD - 1)
  await settle()
  t.equal(statesOf(app)[second], 'next', 'never switches a millisecond early')
  clock.advance(1)
  await until(() => statesOf(app)[second] === 'active')
  t.same(statesOf(app), { [first]: 'retiring', [second]: 'active' })
  t.same(await publishedKids(app), [second, first], 'the old key stays published')
  t.equal((await app.webhooks.sign({}, { audience: AUDIENCE })).kid, second, 'only the active key signs')

  clock.advance(RETIRE_AFTER - 1)
  await settle()
  t.equal(statesOf(app)[first], 'retiring', 'never retires a millisecond early')
  clock.advance(1)
  t.same(await rotation, { previousKid: first, activeKid: second })
  t.same(statesOf(app), { [first]: 'retired', [second]: 'active' })
  t.same(await publishedKids(app), [second])

  t.same(transitions.map(({ kid, from, to, reason, at }) => ({ kid, from, to, reason, at: at.getTime() - START })), [
    { kid: second, from: null, to: 'next', reason: 'rotation', at: 0 },
    { kid: second, from: 'next', to: 'active', reason: 'rotation', at: PUBLISH_LEAD },
    { kid: first, from: 'active', to: 'retiring', reason: 'rotation', at: PUBLISH_LEAD },
    { kid: first, from: 'retiring', to: 'retired', reason: 'rotation', at: PUBLISH_LEAD + RETIRE_AFTER }
  ])
  t.same(transitions[2]?.next, { state: 'retired', at: new Date(START + PUBLISH_LEAD + RETIRE_AFTER) }, 'events name the next step')
  const logged = logs.filter((line) => line.to !== undefined).map((line) => [line.kid, line.to])
  t.same(logged.slice(1), [[second, 'next'], [second, 'active'], [first, 'retiring'], [first, 'retired']], 'every transition is logged with its kid')
  t.match(logs.find((line) => line.kid === second && line.to === 'next'), { next: { state: 'active' }, msg: `webhook signing key ${second} is now next` })
  const history = app.webhooks.status().keys.find((key) => key.kid === first)?.transitions.map((step) => [step.state, step.at.getTime() - START, step.reason])
  t.same(history, [['active', 0, 'bootstrap'], ['retiring', PUBLISH_LEAD, 'rotation'], ['retired', PUBLISH_LEAD + RETIRE_AFTER, 'rotation']])
})

t.test('rotation.every schedules rotations, each key signing for `every`, over timers longer than Node can hold', async (t) => {
  const clock = createManualClock(START)
  const every = 30 * 86400_000
  const { app } = await buildProducer(t, { ...WINDOWS, keyStore: memoryKeyStore(), clock, rotation: { every: '30d' } })
  let activatedAt = START
  for (let round = 1; round <= 3; round++) {
    const before = app.webhooks.status()
    t.same(before.nextRotationAt, new Date(activatedAt + every - PUBLISH_LEAD), `round ${round}: next rotation announced`)
    clock.advance(activatedAt + every - PUBLISH_LEAD - 1 - clock.now())
    await settle()
    t.notOk(app.webhooks.status().rotationInProgress, 'not a millisecond early')
    t.equal(clock.pending, 1, 'one timer armed')
    clock.advance(1)
    await until(() => app.webhooks.status().rotationInProgress)
    clock.advance(PUBLISH_LEAD)
    await until(() => app.webhooks.status().activeKid !== before.activeKid)
    activatedAt = clock.now()
    clock.advance(RETIRE_AFTER)
    await until(() => !app.webhooks.status().rotationInProgress)
    t.equal(statesOf(app)[before.activeKid], 'retired')
  }
  t.equal(app.webhooks.status().keys.length, 4)
})

t.test('rotation.every false: no rotation unless asked', async (t) => {
  const clock = createManualClock(START)
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore(), clock, rotation: { every: false } })
  t.equal(app.webhooks.status().nextRotationAt, null)
  clock.advance(400 * 86400_000)
  await settle()
  t.equal(app.webhooks.status().keys.length, 1)
  t.equal(clock.pending, 0)
})

t.test('rollback before the switch withdraws the new key at once', async (t) => {
  const clock = createManualClock(START)
  const { app, transitions } = await buildProducer(t, { ...WINDOWS, keyStore: memoryKeyStore(), clock, rotation: { every: false } })
  const { rotation, first } = await beginRotation(app)
  await app.webhooks.rollback()
  t.same(await rotation, { previousKid: first, activeKid: first })
  t.same(await publishedKids(app), [first])
  t.match(transitions.at(-1), { to: 'retired', from: 'next', reason: 'rollback' })
  clock.advance(PUBLISH_LEAD + RETIRE_AFTER)
  await settle()
  t.equal(app.webhooks.status().activeKid, first, 'nothing left scheduled')
})

t.test('rollback after the switch re-activates the previous key; the newer one retires after retireAfter', async (t) => {
  const clock = createManualClock(START)
  const { app, transitions } = await buildProducer(t, { ...WINDOWS, keyStore: memoryKeyStore(), clock, rotation: { every: false } })
  const { rotation, first } = await beginRotation(app)
  clock.advance(PUBLISH_LEAD)
  await until(() => app.webhooks.status().activeKid !== first)
  const second = app.webhooks.status().activeKid
  clock.advance(1000)
  await app.webhooks.rollback()
  t.same(statesOf(app), { [first]: 'active', [second]: 'retiring' })
  t.equal((await app.webhooks.sign({}, { audience: AUDIENCE })).kid, first)
  t.match(transitions.slice(-2), [{ kid: first, to: 'active', reason: 'rollback' }, { kid: second, to: 'retiring', reason: 'rollback', next: { state: 'retired', at: new Date(clock.now() + RETIRE_AFTER) } }])
  clock.advance(RETIRE_AFTER)
  t.same(await rotation, { previousKid: first, activeKid: first })
  t.same(await publishedKids(app), [first])
})

t.test('rollback with nothing to roll back to', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore() })
  await t.rejects(app.webhooks.rollback(), { code: 'WEBHOOK_NOTHING_TO_ROLL_BACK', statusCode: 409 })
})

t.test('revoke the only key: a new key signs at once and the old one is unpublished', async (t) => {
  const { app, transitions } = await buildProducer(t, { keyStore: memoryKeyStore() })
  const first = app.webhooks.status().activeKid
  await app.webhooks.revoke(first)
  const second = app.webhooks.status().activeKid
  t.not(second, first)
  t.same(await publishedKids(app), [second])
  t.equal((await app.webhooks.sign({}, { audience: AUDIENCE })).kid, second)
  t.match(transitions, [{ kid: first, to: 'retired', reason: 'revoke' }, { kid: second, from: null, to: 'active', reason: 'revoke' }])
  t.equal(app.webhooks.status().keys.find((key) => key.kid === first)?.state, 'retired')
})

t.test('revoke the signing key mid-rotation hands signing to the key receivers already have', async (t) => {
  const clock = createManualClock(START)
  const { app } = await buildProducer(t, { ...WINDOWS, keyStore: memoryKeyStore(), clock, rotation: { every: false } })
  const { rotation, first, second } = await beginRotation(app)
  clock.advance(PUBLISH_LEAD)
  await until(() => app.webhooks.status().activeKid === second)
  await app.webhooks.revoke(second)
  t.same(statesOf(app), { [first]: 'active', [second]: 'retired' }, 'the retiring key, known to every receiver, signs again')
  t.same(await rotation, { previousKid: first, activeKid: first })
})

t.test('revoke the signing key before the switch activates the published next key', async (t) => {
  const clock = createManualClock(START)
  const { app } = await buildProducer(t, { ...WINDOWS, keyStore: memoryKeyStore(), clock, rotation: { every: false } })
  const { rotation, first, second } = await beginRotation(app)
  await app.webhooks.revoke(first)
  t.same(statesOf(app), { [first]: 'retired', [second]: 'active' })
  t.same(await rotation, { previousKid: first, activeKid: second })
  t.same(await publishedKids(app), [second])
})

t.test('revoke a next or retiring key unpublishes it and ends the rotation', async (t) => {
  const clock = createManualClock(START)
  const { app } = await buildProducer(t, { ...WINDOWS, keyStore: memoryKeyStore(), clock, rotation: { every: false } })
  const { rotation: cancelled, first, second: next } = await beginRotation(app)
  await app.webhooks.revoke(next)
  t.same(await cancelled, { previousKid: first, activeKid: first })

  const { rotation } = await beginRotation(app)
  clock.advance(PUBLISH_LEAD)
  await until(() => app.webhooks.status().activeKid !== first)
  await app.webhooks.revoke(first)
  t.same(await rotation, { previousKid: first, activeKid: app.webhooks.status().activeKid })
  t.same(await publishedKids(app), [app.webhooks.status().activeKid])
})

t.test('revoke a kid that is not published', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore() })
  await t.rejects(app.webhooks.revoke('no-such-kid'), { code: 'WEBHOOK_UNKNOWN_KEY', statusCode: 404, message: /no-such-kid/ })
  const first = app.webhooks.status().activeKid
  await app.webhooks.revoke(first)
  await t.rejects(app.webhooks.revoke(first), { code: 'WEBHOOK_UNKNOWN_KEY' }, 'a retired key cannot be revoked twice')
})

t.test('only the latest ten retired keys are kept', async (t) => {
  const { app } = await buildProducer(t, { keyStore: memoryKeyStore() })
  for (let i = 0; i < 13; i++) await app.webhooks.revoke(app.webhooks.status().activeKid)
  const keys = app.webhooks.status().keys
  t.equal(keys.filter((key) => key.state === 'retired').length, 10)
  t.equal(keys.length, 11)
})

t.test('a throwing transition listener is logged and does not undo the transition', async (t) => {
  const { app, logs } = await buildProducer(t, { keyStore: memoryKeyStore() })
  const listener = (): void => { throw new Error('listener bug') }
  app.webhooks.on('transition', listener)
  const first = app.webhooks.status().activeKid
  await app.webhooks.revoke(first)
  t.not(app.webhooks.status().activeKid, first)
  t.ok(logs.some((line) => line.msg === 'a webhook producer event listener failed' && line.event === 'transition'))
  app.webhooks.off('transition', listener)
  const errorsBefore = logs.filter((line) => line.level >= 50).length
  await app.webhooks.revoke(app.webhooks.status().activeKid)
  t.equal(logs.filter((line) => line.level >= 50).length, errorsBefore, 'off() removes the listener')
})

t.test('close() rejects a rotation still waiting; the rotation resumes from the store on the next start', async (t) => {
  const clock = createManualClock(START)
  const keyStore = memoryKeyStore()
  const { app } = await buildProducer(t, { ...WINDOWS, keyStore, clock, rotation: { every: false } })
  const { rotation } = await beginRotation(app)
  await app.close()
  await t.rejects(rotation, { code: 'WEBHOOK_PRODUCER_CLOSED' })
  await t.rejects(app.webhooks.rotate(), { code: 'WEBHOOK_PRODUCER_CLOSED' })
  await t.rejects(app.webhooks.revoke('x'), { code: 'WEBHOOK_PRODUCER_CLOSED' })
  await t.rejects(app.webhooks.sign({}, { audience: AUDIENCE }), { code: 'WEBHOOK_NO_ACTIVE_KEY', statusCode: 503 })
  t.match(await app.webhooks.health(), { healthy: false, reason: 'no active signing key' })
  const { app: restarted } = await buildProducer(t, { ...WINDOWS, keyStore, clock, rotation: { every: false } })
  t.ok(restarted.webhooks.status().rotationInProgress)
})

t.test('rotate() queued behind a revoke settles only when its own rotation completes', async (t) => {
  const clock = createManualClock(START)
  const { app } = await buildProducer(t, { ...WINDOWS, keyStore: memoryKeyStore(), clock, rotation: { every: false } })
  const revoked = app.webhooks.revoke(app.webhooks.status().activeKid)
  let settled = false
  const rotation = app.webhooks.rotate().then((result) => { settled = true; return result })
  await revoked
  await until(() => app.webhooks.status().rotationInProgress)
  const replacement = app.webhooks.status().activeKid
  await settle()
  t.notOk(settled, 'still running')
  clock.advance(PUBLISH_LEAD)
  await until(() => app.webhooks.status().activeKid !== replacement)
  clock.advance(RETIRE_AFTER)
  const result = await rotation
  t.same(result, { previousKid: replacement, activeKid: app.webhooks.status().activeKid })
  t.not(result.activeKid, replacement)
})

t.test('with rotation.every set, a rollback before the switch does not start another rotation at once', async (t) => {
  const clock = createManualClock(START)
  const every = 30 * 86400_000
  const { app } = await buildProducer(t, { ...WINDOWS, keyStore: memoryKeyStore(), clock, rotation: { every: '30d' } })
  clock.advance(every - PUBLISH_LEAD)
  await until(() => app.webhooks.status().rotationInProgress)
  clock.advance(1000)
  await app.webhooks.rollback()
  await settle()
  t.notOk(app.webhooks.status().rotationInProgress, 'the schedule waits')
  t.same(app.webhooks.status().nextRotationAt, new Date(clock.now() + every - PUBLISH_LEAD), 'a full period from the rollback')
})
