import type { ReplayStore } from '@webhook-jwt/consumer'
import type { ManualClock } from '@webhook-jwt/protocol'
import { openExchange, requestHead, type RawAnswer } from '../../../../test/support/raw-http.ts'
import { buildConsumer } from './consumer-app.ts'
import { startJwksServer } from './jwks-server.ts'
import { BODY, testKey, tokenFor } from './token-factory.ts'

interface TestContext {
  teardown(fn: () => unknown): void
}

/** The attack's clock tolerance, in seconds; its token lives 2 s (`exp = iat + 2`). */
export const ATTACK_TOLERANCE = 1

/** What the three held connections got, in the order their bodies were finished. */
export interface HeldBodyOutcome {
  answers: RawAnswer[]
  /** How many requests reached the handler. */
  handled: number
  /** `exp + clockTolerance`, in ms: the token is refused from then on. */
  refusedFromMs: number
  /** When each body was finished, in ms on the consumer's clock. */
  finishedAtMs: number[]
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The replay of issue 15 over raw sockets: three connections send the headers and part of the body with one
 * token before its `exp`, and are held. Two finish their bodies after `exp`, within the tolerance; the last
 * one once `exp + clockTolerance` has passed. On `clock` (a manual clock the consumer runs on), time is
 * advanced; without one, the real clock is waited on (2 s at most).
 */
export async function heldBodyAttack (t: TestContext, replayStore?: ReplayStore, clock?: ManualClock): Promise<HeldBodyOutcome> {
  const now = (): number => clock?.now() ?? Date.now()
  const waitUntil = async (ms: number): Promise<void> => {
    if (clock !== undefined) {
      clock.advance(Math.max(0, ms - clock.now()))
      return
    }
    while (Date.now() < ms) await sleep(Math.min(50, ms - Date.now()))
  }
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  let checked = 0
  let handled = 0
  const { app } = await buildConsumer(t, server.url, { clockTolerance: ATTACK_TOLERANCE, replayStore, clock }, (app) => {
    // The route's own onRequest runs after the consumer's: it counts the requests whose token passed.
    app.post('/held', { config: { webhook: true }, onRequest: async () => { checked++ } }, async () => {
      handled++
      return { ok: true }
    })
  })
  const port = Number(new URL(await app.listen({ port: 0, host: '127.0.0.1' })).port)

  const exp = Math.ceil(now() / 1000)
  const token = tokenFor(key, { claims: { iat: exp - 2, exp } })
  const head = requestHead('POST', '/held', { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) })
  const held = BODY.length >> 1
  const exchanges = [0, 1, 2].map(() => openExchange(port, head + BODY.slice(0, held)))
  const allChecked = (): boolean => checked === 3
  for (let waited = 0; !allChecked() && waited < 5000; waited += 5) await sleep(5)
  if (!allChecked()) throw new Error(`only ${checked} of the 3 held requests passed the token check`)

  const refusedFromMs = (exp + ATTACK_TOLERANCE) * 1000
  await waitUntil(exp * 1000 + 1)
  const answers: RawAnswer[] = []
  const finishedAtMs: number[] = []
  for (const [index, exchange] of exchanges.entries()) {
    // A little past the limit, so that Redis' own clock (the same machine's) has passed it too.
    if (index === 2) await waitUntil(refusedFromMs + 20)
    finishedAtMs.push(now())
    exchange.write(BODY.slice(held))
    answers.push(await exchange.answer)
  }
  return { answers, handled, refusedFromMs, finishedAtMs }
}
