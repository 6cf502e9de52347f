import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { SIGN_RETRY_MS, STEP_RETRY_MS, WebhookOptionError, memoryDeliveryQueue, type DeliveryOutcomeEvent, type StoredKeySet } from '@webhook-jwt/producer'
import { createManualClock, type ManualClock } from '@webhook-jwt/protocol'
import { AUDIENCE, beginRotation, buildProducer, LOOPBACK_NETWORKS, publishedKids, startupError, statesOf, until, type ProducerUnderTest } from './helpers/producer-app.ts'
import { SharedBacking, sharedKeyStore } from './helpers/shared-key-store.ts'
import { startRawReceiver } from './helpers/raw-receiver.ts'

// Several replicas on one shared key store (lease, fence, notifications, maxStaleness), on an injected clock.
// The store is the in-memory double in helpers/shared-key-store.ts; @webhook-jwt/redis runs the same
// contract against a real Redis server.

const START = Date.parse('2026-03-01T00:00:00.000Z')
const KEK = randomBytes(32).toString('base64url')
// maxAge 600 + skew 30 + maxStaleness 30 → publishLead 660 s; ttl 300 + skew 30 + maxStaleness 30 → retireAfter 360 s.
const WINDOWS = { tokenTtl: 300, clockSkew: 30, jwks: { maxAge: 600 }, keyEncryptionKey: KEK }
const PUBLISH_LEAD = 660_000
const RETIRE_AFTER = 360_000

async function settle (): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 20))
}

interface Replicas {
  clock: ManualClock
  backing: SharedBacking
  a: ProducerUnderTest
  b: ProducerUnderTest
}

async function twoReplicas (t: Test, rotation: { every: number | false } = { every: false }): Promise<Replicas> {
  const clock = createManualClock(START)
  const backing = new SharedBacking(clock)
  const a = await buildProducer(t, { ...WINDOWS, clock, rotation, keyStore: sharedKeyStore(backing) })
  const b = await buildProducer(t, { ...WINDOWS, clock, rotation, keyStore: sharedKeyStore(backing) })
  return { clock, backing, a, b }
}

/** How many times each key entered each state, over the whole stored history. */
function stepsApplied (backing: SharedBacking): number[] {
  return (backing.stored?.keys ?? []).flatMap((key) => {
    const counts = new Map<string, number>()
    for (const step of key.transitions) counts.set(step.state, (counts.get(step.state) ?? 0) + 1)
    return [...counts.values()]
  })
}

t.test('two replicas: one key set, every step applied once, the other replica told at once', async (t) => {
  const { clock, backing, a, b } = await twoReplicas(t)
  t.equal(backing.writes.length, 1, 'one bootstrap, by the first replica; the second loaded it')
  t.equal(a.app.webhooks.status().activeKid, b.app.webhooks.status().activeKid)
  t.ok(backing.writes.every((set) => set.keys.every((key) => key.privateKey?.format === 'A256GCM')), 'private keys are stored encrypted')

  const { rotation, first, second } = await beginRotation(a.app)
  await until(() => statesOf(b.app)[second] === 'next')
  t.same(await publishedKids(b.app), [first, second], 'the other replica serves the new key as soon as it is told')
  t.equal((await b.app.webhooks.sign({}, { audience: AUDIENCE })).kid, first)

  clock.advance(PUBLISH_LEAD)
  await until(() => statesOf(a.app)[second] === 'active' && statesOf(b.app)[second] === 'active')
  t.equal((await b.app.webhooks.sign({}, { audience: AUDIENCE })).kid, second, 'both replicas switch')
  clock.advance(RETIRE_AFTER)
  t.same(await rotation, { previousKid: first, activeKid: second })
  await until(() => statesOf(b.app)[first] === 'retired')
  await settle()
  t.equal(backing.writes.length, 4, 'bootstrap, publish, switch, retire: each written once though both replicas had it scheduled')
  t.ok(stepsApplied(backing).every((count) => count === 1), 'no key entered a state twice')
  t.equal(b.transitions.length, 0, 'transition events come from the replica that applied the step')
  t.match(b.logs.filter((line) => line.revision !== undefined).map((line) => line.msg), ['webhook key set revision 2 loaded from the key store', 'webhook key set revision 3 loaded from the key store', 'webhook key set revision 4 loaded from the key store'])
})

t.test('scheduled rotations run once across replicas, whichever replica\'s timer fires first', async (t) => {
  const every = PUBLISH_LEAD + RETIRE_AFTER
  const { clock, backing, a, b } = await twoReplicas(t, { every: every / 1000 })
  const agreed = (): boolean => JSON.stringify(statesOf(a.app)) === JSON.stringify(statesOf(b.app))
  // The first rotation publishes its key publishLead before the first key's period ends; each retirement
  // coincides with the next rotation's publication.
  clock.advance(every - PUBLISH_LEAD)
  for (let rotation = 1; rotation <= 3; rotation++) {
    await until(() => a.app.webhooks.status().rotationInProgress && agreed())
    const before = a.app.webhooks.status().activeKid
    clock.advance(PUBLISH_LEAD)
    await until(() => a.app.webhooks.status().activeKid !== before && agreed())
    clock.advance(RETIRE_AFTER)
    await until(() => statesOf(a.app)[before] === 'retired' && agreed())
  }
  await settle()
  const stored = backing.stored?.keys ?? []
  t.equal(stored.filter((key) => key.state === 'retired').length, 3, 'three rotations completed')
  t.ok(stepsApplied(backing).every((count) => count === 1), 'no key entered a state twice')
  const recorded = stored.reduce((sum, key) => sum + key.transitions.length, 0)
  t.equal(a.transitions.length + b.transitions.length, recorded - 1, 'each stored transition reported once (the bootstrap before the test listened), by whichever replica applied it')
  t.ok(a.transitions.length > 0 && b.transitions.length === 0, 'the replica whose timer fires first applies every step; the other finds nothing left to do')
})

t.test('a lost notification is made up by the periodic re-read, every third of maxStaleness', async (t) => {
  const { clock, backing, a, b } = await twoReplicas(t)
  backing.notify = false
  const { second } = await beginRotation(a.app)
  await settle()
  t.notOk(second in statesOf(b.app), 'not told')
  clock.advance(10_000)
  await until(() => statesOf(b.app)[second] === 'next')
  t.pass('picked up by the re-read')
})

t.test('the lease: a step another replica is applying is retried, not failed; a lapsed lease lets it through', async (t) => {
  const { clock, backing, a } = await twoReplicas(t)
  const failures: Error[] = []
  a.app.webhooks.on('stepFailed', (error) => failures.push(error))
  const { second } = await beginRotation(a.app)
  const busy = (): number => a.logs.filter((line) => line.msg === 'another webhook producer replica holds the key step lease; trying the step again').length
  clock.advance(PUBLISH_LEAD - 1)
  backing.holdLease(20_000)
  clock.advance(1)
  await until(() => busy() === 1, 10_000)
  t.equal(statesOf(a.app)[second], 'next', 'not switched under another replica\'s lease')
  t.match(await a.app.webhooks.health(), { healthy: true }, 'waiting for a lease is not a failing step')
  clock.advance(STEP_RETRY_MS)
  await until(() => busy() === 2, 10_000)
  t.equal(statesOf(a.app)[second], 'next', 'the lease still runs')
  clock.advance(20_000)
  await until(() => statesOf(a.app)[second] === 'active', 10_000)
  t.same(failures, [])
  const switched = backing.stored?.keys.find((key) => key.kid === second)?.transitions.at(-1)?.at
  t.equal(switched, new Date(START + PUBLISH_LEAD + STEP_RETRY_MS + 20_000).toISOString(), 'switched once the lease lapsed: a later switch only lengthens the overlap')
})

t.test('rotate() while another replica holds the lease gives up with WEBHOOK_KEY_STORE_BUSY after the backoff', async (t) => {
  const { backing, a } = await twoReplicas(t)
  backing.holdLease(60_000)
  await t.rejects(a.app.webhooks.rotate(), { code: 'WEBHOOK_KEY_STORE_BUSY' })
})

t.test('a replica that starts while another holds the lease starts on the stored keys; on an empty store it cannot', async (t) => {
  const clock = createManualClock(START)
  const backing = new SharedBacking(clock)
  backing.holdLease(60_000)
  let closed = 0
  t.match(await startupError({ ...WINDOWS, clock, keyStore: sharedKeyStore(backing, { close: async () => { closed++ } }) }), { code: 'WEBHOOK_KEY_STORE_BUSY' }, 'nothing to sign with yet')
  t.equal(closed, 1, 'a store the producer could not start on is closed: its connections do not outlive the failed registration')
  backing.lease = null
  const first = await buildProducer(t, { ...WINDOWS, clock, keyStore: sharedKeyStore(backing) })
  backing.holdLease(60_000)
  const second = await buildProducer(t, { ...WINDOWS, clock, keyStore: sharedKeyStore(backing) })
  t.equal(second.app.webhooks.status().activeKid, first.app.webhooks.status().activeKid)
  t.ok(second.logs.some((line) => line.msg === 'another webhook producer replica is applying a key step; starting with the stored keys'))
})

t.test('fencing: a write under a lease that lapsed is refused; the step is re-planned on what is stored', async (t) => {
  const clock = createManualClock(START)
  const backing = new SharedBacking(clock)
  let fenceOnce = true
  const store = sharedKeyStore(backing)
  const fenced = sharedKeyStore(backing, {
    async write (keySet, expected, lease) {
      if (fenceOnce) {
        fenceOnce = false
        // The lease lapses while this replica pauses, and another replica takes it.
        backing.lease = null
        backing.holdLease(0)
      }
      await store.write(keySet, expected, lease)
    }
  })
  const { app, logs } = await buildProducer(t, { ...WINDOWS, clock, keyStore: fenced })
  t.equal(backing.writes.length, 1)
  t.ok(logs.some((line) => line.msg === 'webhook key store changed underneath; reloading it' && line.code === 'WEBHOOK_KEY_STORE_FENCED'))
  t.equal(app.webhooks.status().keys.length, 1)
})

t.test('a lease that cannot be released is logged and left to lapse', async (t) => {
  const clock = createManualClock(START)
  const backing = new SharedBacking(clock)
  const store = sharedKeyStore(backing)
  const { logs } = await buildProducer(t, {
    ...WINDOWS,
    clock,
    keyStore: sharedKeyStore(backing, {
      async lease () {
        const lease = await store.lease?.() ?? null
        return lease === null ? null : { fence: lease.fence, release: async () => { throw new Error('connection lost') } }
      }
    })
  })
  t.ok(logs.some((line) => line.msg === 'webhook key store lease could not be released; it will lapse'))
})

t.test('store unreachable: signs and serves what it holds for maxStaleness, then pauses both until it answers', async (t) => {
  const clock = createManualClock(START)
  const backing = new SharedBacking(clock)
  const receiver = await startRawReceiver(t)
  const { app, logs } = await buildProducer(t, { ...WINDOWS, clock, keyStore: sharedKeyStore(backing), delivery: { queue: memoryDeliveryQueue(), allowedNetworks: LOOPBACK_NETWORKS } })
  const outcomes: DeliveryOutcomeEvent[] = []
  app.webhooks.on('outcome', (event) => outcomes.push(event))
  backing.down = true
  clock.advance(10_000)
  await until(() => logs.some((line) => line.msg === 'webhook key store cannot be read; signing with the keys held until it answers or maxStaleness passes'))
  t.match(await app.webhooks.health(), { healthy: false, reason: /^key store unreadable/ })
  await app.webhooks.sign({}, { audience: AUDIENCE })
  t.equal((await app.inject('/.well-known/jwks.json')).statusCode, 200, 'within maxStaleness: the held keys')
  clock.advance(10_000)
  await settle()
  t.equal(logs.filter((line) => line.msg?.startsWith('webhook key store cannot be read')).length, 1, 'said once per outage')

  clock.advance(10_001)
  await t.rejects(app.webhooks.sign({}, { audience: AUDIENCE }), { code: 'WEBHOOK_KEY_SET_STALE', statusCode: 503 })
  const jwks = await app.inject('/.well-known/jwks.json')
  t.equal(jwks.statusCode, 503, 'receivers keep the set they cached')
  t.equal(jwks.headers['retry-after'], '5')
  t.match(jwks.json(), { code: 'WEBHOOK_KEY_SET_STALE' })
  backing.down = false
  t.match(await app.webhooks.health(), { healthy: false, reason: /^keys not confirmed against the key store for 30s/ })
  backing.down = true

  await app.webhooks.deliver(receiver.url, { held: true })
  await until(() => logs.some((line) => line.msg === 'webhook could not be signed; it stays queued and is tried again'))
  t.equal(receiver.requests.length, 0, 'nothing sent unsigned, no attempt counted')
  backing.down = false
  clock.advance(10_000)
  await settle()
  clock.advance(SIGN_RETRY_MS)
  await until(() => outcomes.length === 1, 10_000)
  t.match(outcomes, [{ outcome: 'delivered', attempts: 1 }], 'signed and sent once the keys are confirmed again')
  t.match(await app.webhooks.health(), { healthy: true })
})

t.test('an emptied store (Redis lost its data) gets the held keys back, and the other replica keeps them', async (t) => {
  const { clock, backing, a, b } = await twoReplicas(t)
  const kid = a.app.webhooks.status().activeKid
  backing.stored = null
  clock.advance(10_000)
  await until(() => backing.stored !== null)
  const restored = backing.stored as StoredKeySet | null
  t.equal(restored?.keys[0]?.kid, kid, 'the same key, not a new one')
  t.equal(restored?.revision, 2, 'the revision keeps growing')
  t.ok([...a.logs, ...b.logs].some((line) => line.msg === 'the webhook key store is empty although it held keys; writing back the keys this replica holds'))
  await settle()
  t.equal(b.app.webhooks.status().activeKid, kid)
  t.equal(a.app.webhooks.status().activeKid, kid)
})

t.test('options: a store that requires encryption needs keyEncryptionKey; the rotation waits include maxStaleness', async (t) => {
  const backing = new SharedBacking(createManualClock(START))
  const error = await startupError({ keyStore: sharedKeyStore(backing) })
  t.ok(error instanceof WebhookOptionError)
  t.match(error, { option: 'keyEncryptionKey', message: /is required with the key store shared test store/ })
  t.match(await startupError({ ...WINDOWS, keyStore: sharedKeyStore(backing), rotation: { publishLead: 630 } }), {
    code: 'WEBHOOK_UNSAFE_ROTATION', option: 'rotation.publishLead', message: /at least jwks\.maxAge \+ clockSkew \+ the key store's maxStaleness \(30s\) \(11m\)/
  })
  t.match(await startupError({ ...WINDOWS, keyStore: sharedKeyStore(backing), rotation: { retireAfter: 330 } }), {
    code: 'WEBHOOK_UNSAFE_ROTATION', option: 'rotation.retireAfter', message: /tokenTtl \+ clockSkew \+ the key store's maxStaleness/
  })
  for (const bad of [{ maxStaleness: 0 }, { maxStaleness: Infinity }, { maxStaleness: '30' }, { lease: true }, { watch: 'yes' }]) {
    t.match(await startupError({ ...WINDOWS, keyStore: sharedKeyStore(backing, bad as never) }), { option: 'keyStore' }, JSON.stringify(bad))
  }
})
