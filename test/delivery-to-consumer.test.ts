import t from 'tap'
import { memoryKeyStore, type DeliveryAttemptEvent, type DeliveryOutcomeEvent } from '@webhook-jwt/producer'
import { startReceiver, startSender, AUDIENCE, type Sender } from './support/webhook-pair.ts'
import { LOOPBACK_NETWORKS, until } from '../packages/producer/test/helpers/producer-app.ts'

// app.webhooks.deliver() against a real @webhook-jwt/consumer on loopback, with the real clock and short,
// configured retry waits (the default schedule is tested on an injected clock in the producer's tests).
const WINDOWS = { tokenTtl: 2, clockSkew: 0.5, jwks: { maxAge: 1 } }

function record (sender: Sender): { attempts: DeliveryAttemptEvent[], outcomes: DeliveryOutcomeEvent[] } {
  const attempts: DeliveryAttemptEvent[] = []
  const outcomes: DeliveryOutcomeEvent[] = []
  sender.app.webhooks.on('attempt', (event) => attempts.push(event))
  sender.app.webhooks.on('outcome', (event) => outcomes.push(event))
  return { attempts, outcomes }
}

t.test('a receiver that does not know the signing key yet answers 503 with Retry-After; the retry after it verifies', async (t) => {
  const sender = await startSender(t, { ...WINDOWS, keyStore: memoryKeyStore(), rotation: { every: false }, delivery: { retry: { schedule: [30] }, allowedNetworks: LOOPBACK_NETWORKS } })
  const receiver = await startReceiver(t, sender.jwksUrl, { maxTokenAge: 2, clockTolerance: 0.5, jwks: { cooldown: 2 } })
  const { attempts, outcomes } = record(sender)
  // An emergency revoke with no successor published: the replacement signs at once, before any receiver has it.
  await sender.app.webhooks.revoke(sender.app.webhooks.status().activeKid)
  const { id } = await sender.app.webhooks.deliver(receiver.url.href, { type: 'order.paid' }, { audience: AUDIENCE })
  await until(() => outcomes.length === 1)
  t.match(attempts, [
    { attempt: 1, verdict: 'retry', status: 503, code: 'WEBHOOK_KEY_UNAVAILABLE' },
    { attempt: 2, verdict: 'delivered', status: 200 }
  ])
  const wait = (attempts[0]?.nextAttemptAt as Date).getTime() - Date.now()
  t.ok(wait < 3000, 'the receiver\'s Retry-After (its cooldown), not the 30 s schedule, set the wait')
  t.match(outcomes, [{ id, outcome: 'delivered', attempts: 2 }])
  t.same(receiver.received.map((webhook) => webhook.id), [id])
})

t.test('a rotation in the middle of a retry series: later attempts carry the new kid, and verify', async (t) => {
  const sender = await startSender(t, { ...WINDOWS, keyStore: memoryKeyStore(), rotation: { every: false }, delivery: { retry: { schedule: [1, 1, 1, 1, 1, 1], jitter: 0 }, allowedNetworks: LOOPBACK_NETWORKS } })
  let failuresLeft = 2
  const receiver = await startReceiver(t, sender.jwksUrl, { maxTokenAge: 2, clockTolerance: 0.5 }, async (_request, reply) =>
    failuresLeft-- > 0 ? await reply.code(500).send({ error: 'handler crashed' }) : { ok: true })
  const { attempts, outcomes } = record(sender)
  const oldKid = sender.app.webhooks.status().activeKid
  const { id } = await sender.app.webhooks.deliver(receiver.url.href, { type: 'order.paid' }, { audience: AUDIENCE })
  const rotation = sender.app.webhooks.rotate()
  await until(() => outcomes.length === 1)
  const { activeKid } = await rotation
  t.not(activeKid, oldKid)
  t.match(attempts.slice(0, 2), [{ verdict: 'retry', status: 500, kid: oldKid }, { verdict: 'retry', status: 500 }])
  t.match(attempts.at(-1), { verdict: 'delivered', status: 200, kid: activeKid }, 'the attempt that got through was signed by the new key')
  t.match(outcomes, [{ id, outcome: 'delivered' }])
  t.same(receiver.received.map((webhook) => webhook.id), Array(receiver.received.length).fill(id), 'every attempt verified; the handler failed the first two')
  t.equal(receiver.received.at(-1)?.kid, activeKid)
})
