import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import t from 'tap'
import { fileKeyStore, memoryKeyStore, type KeyTransitionEvent } from '@webhook-jwt/producer'
import { deliver, startJwksProxy, startReceiver, startSender, traffic, type Delivery } from './support/webhook-pair.ts'

// Both plugins, real HTTP on loopback, real clocks with windows of seconds: max-age 1 s, token TTL 2 s,
// skew 0.5 s, so each key is published 1.5 s before it signs and kept 2.5 s after.
const WINDOWS = { tokenTtl: 2, clockSkew: 0.5, jwks: { maxAge: 1 } }
const RECEIVER = { maxTokenAge: 2, clockTolerance: 0.5 }

// The scenarios are independent (each has its own sender, receiver, ports and key store) and spend most of
// their time waiting on those windows: they run side by side, so the file takes as long as its longest one.
t.jobs = 5

const failures = (deliveries: Delivery[]): Delivery[] => deliveries.filter((delivery) => delivery.status !== 200)
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

t.test('1. continuous traffic across three scheduled rotations: zero failed verifications', async (t) => {
  const sender = await startSender(t, { ...WINDOWS, keyStore: memoryKeyStore(), rotation: { every: 4 } })
  const transitions: KeyTransitionEvent[] = []
  sender.app.webhooks.on('transition', (event) => transitions.push(event))
  const receiver = await startReceiver(t, sender.jwksUrl, RECEIVER)
  // Until three rotations have completed and a thousand deliveries were made: on a loaded machine the
  // second can take longer than the first, and the schedule keeps rotating meanwhile.
  const deadline = Date.now() + 60_000
  const retired = (): number => transitions.filter((step) => step.to === 'retired').length
  let sent = 0
  const deliveries = await traffic(async () => { sent++; return await deliver(sender.app, receiver.url) }, () => (retired() >= 3 && sent >= 1000) || Date.now() > deadline)
  t.ok(retired() >= 3, `${retired()} rotations completed`)
  t.same(failures(deliveries), [], 'every delivery verified')
  t.ok(deliveries.length >= 1000, `${deliveries.length} deliveries`)
  t.ok(new Set(deliveries.map((delivery) => delivery.kid)).size >= 4, 'signed by four keys')
})

t.test('2. a receiver that learns keys only when its cache expires (no refetch on unknown kids): zero failures', async (t) => {
  const sender = await startSender(t, { ...WINDOWS, keyStore: memoryKeyStore(), rotation: { every: false } })
  // cacheMaxAge equal to the sender's max-age, and a cooldown no rotation here outlasts: an unknown kid would
  // get a 503, so every 200 below shows the key was known from the published set in time.
  const receiver = await startReceiver(t, sender.jwksUrl, { ...RECEIVER, jwks: { cacheMaxAge: 1, cooldown: 600 } })
  let rotations = 0
  const rotate = (async () => {
    for (; rotations < 2; rotations++) await sender.app.webhooks.rotate()
  })()
  const deliveries = await traffic(async () => await deliver(sender.app, receiver.url), () => rotations >= 2, 4)
  await rotate
  t.same(failures(deliveries), [])
  t.ok(deliveries.length > 200, `${deliveries.length} deliveries`)
})

t.test('3. the sender restarted mid-rotation on the same key file, during traffic: zero failures, and the rotation completes', async (t) => {
  const keyStore = fileKeyStore({ path: join(mkdtempSync(join(tmpdir(), 'webhook-jwt-e2e-')), 'keys.json') })
  let sender = await startSender(t, { ...WINDOWS, keyStore, rotation: { every: false } })
  const receiver = await startReceiver(t, sender.jwksUrl, RECEIVER)
  const first = sender.app.webhooks.status().activeKid
  sender.app.webhooks.rotate().catch(() => {})
  const deliveries: Delivery[] = []
  const sendFor = async (ms: number): Promise<void> => {
    const until = Date.now() + ms
    deliveries.push(...await traffic(async () => await deliver(sender.app, receiver.url), () => Date.now() > until, 4))
  }
  await sendFor(700)
  await sender.app.close()
  await sleep(300)
  sender = await startSender(t, { ...WINDOWS, keyStore, rotation: { every: false } }, sender.port)
  t.ok(sender.app.webhooks.status().rotationInProgress, 'the rotation resumed from the file')
  const resumed = sender.app.webhooks.rotate()
  let settled = false
  resumed.finally(() => { settled = true }).catch(() => {})
  deliveries.push(...await traffic(async () => await deliver(sender.app, receiver.url), () => settled, 4))
  const { activeKid } = await resumed
  t.not(activeKid, first, 'the new key signs')
  t.same(failures(deliveries), [])
  t.ok(deliveries.some((delivery) => delivery.kid === first) && deliveries.some((delivery) => delivery.kid === activeKid), 'both keys signed deliveries that verified')
})

t.test('4. key endpoint down: known kids keep verifying; a rotation meanwhile gets 503 with Retry-After, never 401, until it is back', async (t) => {
  const sender = await startSender(t, { ...WINDOWS, keyStore: memoryKeyStore(), rotation: { every: false } })
  const proxy = await startJwksProxy(t, sender.jwksUrl)
  const receiver = await startReceiver(t, proxy.url, { ...RECEIVER, jwks: { cooldown: 1, maxStale: 60 } })
  t.equal((await deliver(sender.app, receiver.url)).status, 200)
  proxy.up = false
  await sleep(1500)
  const steady = await Promise.all(Array.from({ length: 20 }, async () => await deliver(sender.app, receiver.url)))
  t.same(failures(steady), [], 'verifying from the last good set while the endpoint is down')
  t.match(receiver.app.webhookConsumer.status(), [{ stale: true, usable: true }])
  const rotation = sender.app.webhooks.rotate()
  while (sender.app.webhooks.status().keys.every((key) => key.state !== 'retiring')) {
    t.equal((await deliver(sender.app, receiver.url)).status, 200, 'the old key still signs and verifies')
    await sleep(100)
  }
  const duringOutage = await Promise.all(Array.from({ length: 10 }, async () => await deliver(sender.app, receiver.url)))
  t.ok(duringOutage.every((delivery) => delivery.status === 503 && delivery.code === 'WEBHOOK_KEY_UNAVAILABLE' && Number(delivery.retryAfter) >= 1), 'the new kid cannot be known yet: 503 with Retry-After')
  proxy.up = true
  await sleep(1100)
  t.same(failures(await Promise.all(Array.from({ length: 10 }, async () => await deliver(sender.app, receiver.url)))), [], 'verified once the endpoint is back')
  await rotation
})

t.test('5. emergency revoke: the revoked kid is refused once the receiver has refreshed; new tokens verify', async (t) => {
  // A 10 s token lifetime here, so the token held back below is still unexpired when it is finally sent.
  const sender = await startSender(t, { ...WINDOWS, tokenTtl: 10, keyStore: memoryKeyStore(), rotation: { every: false } })
  const receiver = await startReceiver(t, sender.jwksUrl, { maxTokenAge: 10, clockTolerance: 0.5, jwks: { cooldown: 1 } })
  t.equal((await deliver(sender.app, receiver.url)).status, 200)
  const compromised = sender.app.webhooks.status().activeKid
  const held = await sender.app.webhooks.sign({ type: 'signed before the revoke' }, { audience: 'https://receiver.test/hooks' })
  await sender.app.webhooks.revoke(compromised)
  await sleep(1100)
  // Like a sender, honour Retry-After: a 503 means the receiver could not refetch yet.
  const untilFinal = async (send: () => Promise<Response>): Promise<{ status: number, code: string | undefined }> => {
    for (;;) {
      const response = await send()
      const code = response.status === 200 ? undefined : (await response.json() as { code: string }).code
      if (response.status !== 503) return { status: response.status, code }
      await sleep(Number(response.headers.get('retry-after')) * 1000)
    }
  }
  const fresh = await untilFinal(async () => {
    const { body, headers } = await sender.app.webhooks.sign({ type: 'after the revoke' }, { audience: 'https://receiver.test/hooks' })
    return await fetch(receiver.url, { method: 'POST', headers, body })
  })
  t.same(fresh, { status: 200, code: undefined }, 'the replacement key verifies')
  t.not(sender.app.webhooks.status().activeKid, compromised)
  const late = await untilFinal(async () => await fetch(receiver.url, { method: 'POST', headers: held.headers, body: held.body }))
  t.same(late, { status: 401, code: 'WEBHOOK_KEY_UNKNOWN' }, 'a token under the revoked kid is refused for good')
})
