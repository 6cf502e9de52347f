import { readFileSync } from 'node:fs'
import t from 'tap'
import { Refusal, webhookVerifier } from '../examples/jose-receiver/verify-webhook.ts'
import type { ExpectedAnswer, VectorCase } from '../docs/conformance/vector-format.ts'
import { serveKeySets, vectors } from './support/conformance.ts'

// The plain-jose verifier of docs/protocol.md ("Verifying without this library") against the conformance
// vectors, over a real loopback JWKS endpoint. It is a sample, not a receiver: it has no other token header,
// no deduplication, no load shedding and an in-memory replay check, so the cases about those are left out; and
// where jose itself decides (which key a kid selects, how a key set is read, the order of its checks) it
// answers some vectors otherwise. Those are listed here, each with why, so that the list is what the docs say.

const OUT_OF_SCOPE = (vector: VectorCase): boolean => vector.receiver.header !== 'authorization' || vector.receiver.deduplicate || vector.replayStore === 'down' || vector.load === 'shedding'

/** The vectors the jose sample answers otherwise, and why (docs/protocol.md lists the same). */
const JOSE_DIFFERS: Record<string, string> = {
  'format/duplicate-alg-in-header': 'jose reads JSON with JSON.parse, which keeps the last of repeated members',
  'format/duplicate-aud-in-claims': 'the same',
  'format/duplicate-member-by-escape': 'the same',
  'format/duplicate-member-nested': 'the same',
  'signature/kid-of-eddsa-key': 'jose selects keys by kid and alg: a key of another algorithm is no match (KEY_UNKNOWN, not SIGNATURE_INVALID)',
  'signature/es384-with-p256-key': 'the same',
  'signature/rs256-with-ps256-key': 'the same',
  'signature/ps256-with-rs256-key': 'the same',
  'claims/iss-not-a-string': 'jose reports a non-string iss as the wrong issuer',
  'key-set/refused-kid-not-thumbprint': 'jose does not check that a kid is its key\'s thumbprint: it accepts',
  'key-set/refused-symmetric-key': 'jose skips a symmetric key instead of refusing the set: it accepts',
  'key-set/refetch-cooling-down': 'jose answers an unknown kid within its cooldown as unknown (401), without telling "retry later" (503)',
  'key-set/down-but-expired': 'jose fetches the key before it checks the claims: 503 while the key set is down',
  'key-set/down-but-wrong-audience': 'the same',
}

/** What the verifier answered, in the vectors' terms. */
async function answerTo (verify: ReturnType<typeof webhookVerifier>, authorization: string | undefined, body: Buffer): Promise<ExpectedAnswer> {
  try {
    const claims = await verify(authorization, body)
    return { status: 200, kid: '', claims }
  } catch (error) {
    const refusal = error as Refusal
    return { status: refusal.status, code: refusal.code as never }
  }
}

t.test('the plain-jose verifier gives the vectors\' answers, but where jose decides otherwise', async (t) => {
  const jwksUrlFor = await serveKeySets(t)
  const differing: string[] = []
  let checked = 0
  for (const vector of vectors.cases.filter((vector) => !OUT_OF_SCOPE(vector))) {
    const verify = webhookVerifier({
      issuer: vector.receiver.issuer,
      jwksUrl: jwksUrlFor(vector.keySet),
      audience: vector.receiver.audience,
      algorithms: vector.receiver.algorithms,
      clockTolerance: vector.receiver.clockTolerance,
      maxTokenAge: vector.receiver.maxTokenAge,
      now: () => vectors.now
    })
    for (const request of vector.requests) {
      const answer = await answerTo(verify, request.headers.authorization, Buffer.from(request.body, 'base64'))
      const expected = request.expect
      // The sample returns the claims alone; the kid is the header's, checked by the others.
      const same = 'claims' in expected ? answer.status === 200 && JSON.stringify((answer as { claims: unknown }).claims) === JSON.stringify(expected.claims) : JSON.stringify(answer) === JSON.stringify(expected)
      if (!same) differing.push(vector.id)
      checked++
    }
  }
  t.same(differing, Object.keys(JOSE_DIFFERS), 'it differs on exactly the listed vectors')
  t.ok(checked > 170, `${checked} requests checked, ${checked - differing.length} answered as the vectors say`)
  const protocol = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8')
  t.match(protocol, `It answers all but ${differing.length} of the ${checked} requests`, 'docs/protocol.md gives these numbers')
})

t.test('docs/protocol.md shows the verifier as it is in the repository', async (t) => {
  const protocol = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8')
  const shown = /<!-- jose-receiver -->\n```ts\n([\s\S]*?)```\n<!-- \/jose-receiver -->/.exec(protocol)?.[1]
  t.equal(shown, readFileSync(new URL('../examples/jose-receiver/verify-webhook.ts', import.meta.url), 'utf8'))
})

t.test('with its defaults, the verifier allows ES256 and reads the system clock', async (t) => {
  const vector = vectors.cases.find((vector) => vector.id === 'accepted/es256') as VectorCase
  const verify = webhookVerifier({ issuer: vector.receiver.issuer, jwksUrl: (await serveKeySets(t))('protocol'), audience: vector.receiver.audience[0] as string })
  const request = vector.requests[0] as VectorCase['requests'][number]
  // The vectors' clock is in 2026: on the system clock their token is expired, or not valid yet.
  t.match(await answerTo(verify, request.headers.authorization, Buffer.from(request.body, 'base64')), { status: 401, code: /^WEBHOOK_TOKEN_(EXPIRED|NOT_YET_VALID)$/ })
})

t.test('the verifier remembers a jti until its token has expired, then forgets it', async (t) => {
  const jwksUrl = (await serveKeySets(t))('protocol')
  let now = vectors.now
  const settings = (vectors.cases[0] as VectorCase).receiver
  const verify = webhookVerifier({ issuer: settings.issuer, jwksUrl, audience: settings.audience, algorithms: settings.algorithms, now: () => now })
  const requestOf = (id: string): VectorCase['requests'][number] => (vectors.cases.find((vector) => vector.id === id) as VectorCase).requests[0] as VectorCase['requests'][number]
  const first = requestOf('accepted/es256')
  const later = requestOf('times/iat-at-tolerance') // issued 30 s ahead of the vectors' clock: valid for longer
  const send = async (request: VectorCase['requests'][number]): Promise<ExpectedAnswer> => await answerTo(verify, request.headers.authorization, Buffer.from(request.body, 'base64'))
  t.match(await send(first), { status: 200 })
  now += 319 // the first token expires at now + 290, plus the 30 s tolerance
  t.match(await send(first), { status: 401, code: 'WEBHOOK_REPLAYED' }, 'remembered while it can still be accepted')
  now += 2
  t.match(await send(later), { status: 200 }, 'another token, once the first has expired')
  t.match(await send(first), { status: 401, code: 'WEBHOOK_TOKEN_EXPIRED' }, 'the first is now refused as expired, not as a replay')
})
