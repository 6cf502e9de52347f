import t from 'tap'
import { deleteKeys, redisOrSkip, uniquePrefix } from './support/redis.ts'

// Issue 15, finding 1, on the real Redis and the real clock: a token whose body is held past exp was accepted
// twice, Redis having been told to keep its id until a time already past. The same attack on the memory store
// is in packages/consumer/test/held-body-replay.test.ts. Without a Redis server, the file skips itself.
const redisUrl = await redisOrSkip(t, 'the held-body replay on redisReplayStore')
if (redisUrl !== null) {
  const { redisReplayStore } = await import('@webhook-jwt/redis')
  const { heldBodyAttack } = await import('../packages/consumer/test/helpers/held-body-attack.ts')

  t.test('issue 15: three connections hold the body of one token past exp + clockTolerance: one is handled, the replay and the late body are refused (redisReplayStore)', async (t) => {
    const prefix = uniquePrefix('held-body')
    t.teardown(() => deleteKeys(redisUrl, prefix))
    const { answers, handled, refusedFromMs, finishedAtMs } = await heldBodyAttack(t, redisReplayStore({ connection: redisUrl, prefix }))
    t.ok((finishedAtMs[1] as number) < refusedFromMs, 'the first two bodies came while the token was valid (a machine too loaded for that cannot run this test)')
    t.same(answers.map((answer) => [answer.status, answer.code]), [[200, undefined], [401, 'WEBHOOK_REPLAYED'], [401, 'WEBHOOK_TOKEN_EXPIRED']])
    t.equal(handled, 1, 'the handler ran once for the token')
  })
}
