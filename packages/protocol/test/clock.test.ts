import t from 'tap'
import { MAX_TIMER_STEP_MS, callAt, createManualClock, systemClock } from '@webhook-jwt/protocol'

t.test('callAt waits past the largest timer Node can hold, in steps', async (t) => {
  const clock = createManualClock(0)
  const fortyDays = 40 * 86400_000
  let firedAt: number | undefined
  callAt(clock, fortyDays, () => { firedAt = clock.now() })
  t.ok(fortyDays > MAX_TIMER_STEP_MS)
  clock.advance(MAX_TIMER_STEP_MS)
  t.equal(firedAt, undefined, 'not after the first step')
  t.equal(clock.pending, 1, 'the next step is armed')
  clock.advance(fortyDays - MAX_TIMER_STEP_MS - 1)
  t.equal(firedAt, undefined, 'not a millisecond early')
  clock.advance(1)
  t.equal(firedAt, fortyDays)
  t.equal(clock.pending, 0)
})

t.test('callAt in the past runs at once; cancel stops it', async (t) => {
  const clock = createManualClock(1000)
  let ran = 0
  callAt(clock, 10, () => ran++)
  t.equal(ran, 1)
  const cancel = callAt(clock, 2000, () => ran++)
  cancel()
  clock.advance(5000)
  t.equal(ran, 1)
  t.equal(clock.pending, 0)
})

t.test('callAt re-arms when a timer fires early', async (t) => {
  let now = 0
  let armed: (() => void) | undefined
  const earlyClock = {
    now: () => now,
    setTimeout: (callback: () => void) => { armed = callback; return 1 },
    clearTimeout: () => {}
  }
  let fired = false
  callAt(earlyClock, 100, () => { fired = true })
  now = 50
  armed?.()
  t.notOk(fired, 'a timer that fires early does not run the callback')
  now = 100
  armed?.()
  t.ok(fired)
})

t.test('a cancelled step does not re-arm', async (t) => {
  let armed: (() => void) | undefined
  const clock = { now: () => 0, setTimeout: (callback: () => void) => { armed = callback; return 1 }, clearTimeout: () => {} }
  let fired = false
  const cancel = callAt(clock, 100, () => { fired = true })
  cancel()
  armed?.()
  t.notOk(fired)
})

t.test('manual clock runs timers in due order, including timers set by timers', async (t) => {
  const clock = createManualClock(0)
  const order: string[] = []
  clock.setTimeout(() => order.push('b'), 20)
  clock.setTimeout(() => {
    order.push('a')
    clock.setTimeout(() => order.push('a2'), 5)
  }, 10)
  clock.setTimeout(() => order.push('b2'), 20)
  const dropped = clock.setTimeout(() => order.push('never'), 15)
  clock.clearTimeout(dropped)
  clock.setTimeout(() => order.push('negative'), -5)
  clock.advance(30)
  t.same(order, ['negative', 'a', 'a2', 'b', 'b2'])
  t.equal(clock.now(), 30)
})

t.test('system clock timers are unref()ed and cancellable', async (t) => {
  t.ok(Math.abs(systemClock.now() - Date.now()) < 1000)
  const handle = systemClock.setTimeout(() => t.fail('cancelled timer ran'), 5) as NodeJS.Timeout
  t.notOk(handle.hasRef(), 'does not keep the process alive')
  systemClock.clearTimeout(handle)
  // The clock's timers never hold the process open, so the test holds it while it waits for one.
  const keepAlive = setTimeout(() => {}, 1000)
  await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 10))
  clearTimeout(keepAlive)
  t.pass('an armed timer fires')
})
