import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { fileKeyStore } from '@webhook-jwt/producer'
import { createManualClock, type ManualClock } from '@webhook-jwt/protocol'
import { beginRotation, buildProducer, publishedKids, statesOf, until } from './helpers/producer-app.ts'

// A restart on the same key file at each step of a rotation: the rotation resumes at the right step,
// never switches early, never forgets to retire, and catches up at once with steps that fell due while down.

const START = Date.parse('2026-03-01T12:00:00.000Z')
const WINDOWS = { tokenTtl: 300, clockSkew: 30, jwks: { maxAge: 600 }, rotation: { every: false as const } }
const PUBLISH_LEAD = 630_000
const RETIRE_AFTER = 330_000

type Context = Parameters<typeof buildProducer>[0]

async function start (t: Context, path: string, clock: ManualClock): ReturnType<typeof buildProducer> {
  return await buildProducer(t, { ...WINDOWS, keyStore: fileKeyStore({ path }), clock })
}

async function settle (): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 20))
}

/** Runs a rotation up to `step` on one process, then stops that process. */
async function rotateUntil (t: Context, path: string, clock: ManualClock, step: 'published' | 'switched' | 'retired'): Promise<{ first: string, second: string }> {
  const { app } = await start(t, path, clock)
  const { rotation, first, second } = await beginRotation(app)
  if (step !== 'published') {
    clock.advance(PUBLISH_LEAD)
    await until(() => app.webhooks.status().activeKid === second)
  }
  if (step === 'retired') {
    clock.advance(RETIRE_AFTER)
    await rotation
  }
  await app.close()
  return { first, second }
}

t.test('restart after publishing, before the switch is due: the switch happens on time, not early', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const clock = createManualClock(START)
  const { first, second } = await rotateUntil(t, path, clock, 'published')
  clock.advance(100_000)
  const { app, transitions } = await start(t, path, clock)
  t.same(statesOf(app), { [first]: 'active', [second]: 'next' })
  t.same(await publishedKids(app), [first, second])
  const rotation = app.webhooks.rotate()
  t.equal(app.webhooks.rotate(), rotation, 'rotate() on the restarted process joins the resumed rotation')
  clock.advance(PUBLISH_LEAD - 100_000 - 1)
  await settle()
  t.equal(statesOf(app)[second], 'next', 'not a millisecond early')
  clock.advance(1)
  await until(() => statesOf(app)[second] === 'active')
  clock.advance(RETIRE_AFTER)
  t.same(await rotation, { previousKid: first, activeKid: second })
  t.same(transitions.map((step) => [step.kid, step.to, step.at.getTime() - START]), [
    [second, 'active', PUBLISH_LEAD], [first, 'retiring', PUBLISH_LEAD], [first, 'retired', PUBLISH_LEAD + RETIRE_AFTER]
  ])
})

t.test('restart after the switch was due: the process switches at startup, then retires on time', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const clock = createManualClock(START)
  const { first, second } = await rotateUntil(t, path, clock, 'published')
  clock.advance(PUBLISH_LEAD + 5000)
  const { app } = await start(t, path, clock)
  t.same(statesOf(app), { [first]: 'retiring', [second]: 'active' }, 'caught up before serving anything')
  const switchedAt = clock.now()
  t.same(app.webhooks.status().keys.find((key) => key.kid === first)?.next, { state: 'retired', at: new Date(switchedAt + RETIRE_AFTER) }, 'the retire wait counts from the real switch')
  clock.advance(RETIRE_AFTER - 1)
  await settle()
  t.equal(statesOf(app)[first], 'retiring')
  clock.advance(1)
  await until(() => statesOf(app)[first] === 'retired')
})

t.test('restart while the old key is retiring: it retires on time', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const clock = createManualClock(START)
  const { first, second } = await rotateUntil(t, path, clock, 'switched')
  clock.advance(RETIRE_AFTER - 10_000)
  const { app } = await start(t, path, clock)
  t.same(statesOf(app), { [first]: 'retiring', [second]: 'active' })
  t.same(await publishedKids(app), [second, first], 'the old key is still served after the restart')
  clock.advance(9_999)
  await settle()
  t.equal(statesOf(app)[first], 'retiring', 'not a millisecond early')
  clock.advance(1)
  await until(() => statesOf(app)[first] === 'retired')
  t.same(await publishedKids(app), [second])
})

t.test('restart after the retirement was due: retired at startup, never forgotten', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const clock = createManualClock(START)
  const { first, second } = await rotateUntil(t, path, clock, 'switched')
  clock.advance(10 * RETIRE_AFTER)
  const { app } = await start(t, path, clock)
  t.same(statesOf(app), { [first]: 'retired', [second]: 'active' })
  t.notOk(app.webhooks.status().rotationInProgress)
})

t.test('restart after the rotation completed: nothing to do, nothing rewritten', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const clock = createManualClock(START)
  const { first, second } = await rotateUntil(t, path, clock, 'retired')
  const { app, logs } = await start(t, path, clock)
  t.same(statesOf(app), { [first]: 'retired', [second]: 'active' })
  t.equal(logs.filter((line) => line.to !== undefined).length, 0, 'no transition at startup')
  t.equal(JSON.parse(readFileSync(path, 'utf8')).revision, 4, 'the file was not rewritten')
})

t.test('a temporary file left by a crash during a write is ignored', async (t) => {
  const folder = t.testdir()
  const path = join(folder, 'keys.json')
  const clock = createManualClock(START)
  const { second } = await rotateUntil(t, path, clock, 'switched')
  writeFileSync(join(folder, '.keys.json.abcdef.tmp'), '{"half": ', { mode: 0o600 })
  const { app } = await start(t, path, clock)
  t.equal(app.webhooks.status().activeKid, second)
})
