import t from 'tap'
import { memoryKeyStore } from '@webhook-jwt/producer'
import { bodyDigest } from '@webhook-jwt/protocol'
import { CachingVerifier } from './helpers/caching-verifier.ts'
import { AUDIENCE, ISSUER, buildProducer, listen, publishedKids, until } from './helpers/producer-app.ts'

/** How late a sample below may be taken on a loaded machine; still far below the lead these tests check. */
const SAMPLING_MS = 300

// Real clock, windows of a second or two: max-age 1 s, token TTL 2 s, skew 0.5 s, so each key is published
// 1.5 s before it signs and kept 2.5 s after it stops, and each key signs for 4 s. The skew covers event-loop
// stalls on a loaded machine between the JWKS being generated and the verifier reading it. (A TTL of 1 s
// would leave tokens signed late in a second only milliseconds of life: iat is rounded down to the second.)

// The two tests share nothing and mostly wait on the clock: side by side, the file takes as long as the first.
t.jobs = 2

t.test('a verifier that caches the JWKS for exactly max-age never meets a kid it lacks, over three rotations', async (t) => {
  const { app, transitions } = await buildProducer(t, {
    keyStore: memoryKeyStore(),
    tokenTtl: 2,
    clockSkew: 0.5,
    jwks: { maxAge: 1 },
    rotation: { every: 4 }
  })
  const verifier = new CachingVerifier(await listen(app), { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'] })
  const failures: unknown[] = []
  const kidsSeen = new Set<string>()
  const firstServed = new Map<string, number>()
  const firstSigned = new Map<string, number>()
  let verified = 0
  const deadline = Date.now() + 30_000
  while (transitions.filter((step) => step.to === 'retired').length < 3 && Date.now() < deadline) {
    for (const kid of await publishedKids(app)) if (!firstServed.has(kid)) firstServed.set(kid, Date.now())
    const signed = await app.webhooks.sign({ at: Date.now() }, { audience: AUDIENCE })
    if (!firstSigned.has(signed.kid)) firstSigned.set(signed.kid, Date.now())
    const result = await verifier.verify(signed.token)
    if (!result.ok) failures.push(result)
    else {
      verified++
      kidsSeen.add(result.kid)
      if (result.payload.body_sha256 !== bodyDigest(signed.body)) failures.push({ reason: 'digest', kid: result.kid })
    }
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  t.equal(transitions.filter((step) => step.to === 'retired').length, 3, 'three rotations completed')
  t.same(failures, [], 'no token failed verification')
  t.ok(verified > 300, `${verified} tokens verified`)
  t.ok(kidsSeen.size >= 4, `tokens from ${kidsSeen.size} keys`)
  t.ok(verifier.fetches >= 6, `the verifier refetched on expiry only (${verifier.fetches} fetches)`)
  // Measured from outside, on the served JWKS and the returned tokens (sampled every few milliseconds).
  for (const step of transitions.filter((other) => other.to === 'active')) {
    const servedFor = (firstSigned.get(step.kid) as number) - (firstServed.get(step.kid) as number)
    t.ok(servedFor >= 1500 - SAMPLING_MS, `key ${step.kid.slice(0, 8)} was served ${servedFor} ms before it first signed`)
  }
})

t.test('the publish time is taken once the key exists, however long generating it takes', async (t) => {
  const { app, transitions } = await buildProducer(t, {
    keyStore: memoryKeyStore(), algorithm: 'RS256', rsaModulusLength: 4096, tokenTtl: 2, clockSkew: 0.5, jwks: { maxAge: 1 }, rotation: { every: false }
  })
  const first = app.webhooks.status().activeKid
  const rotation = app.webhooks.rotate()
  let servedAt: number | undefined
  let signedAt: number | undefined
  while (signedAt === undefined) {
    if (servedAt === undefined && (await publishedKids(app)).length === 2) servedAt = Date.now()
    if ((await app.webhooks.sign({}, { audience: AUDIENCE })).kid !== first) signedAt = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const published = transitions.find((step) => step.to === 'next') as { at: Date }
  t.ok((servedAt as number) - published.at.getTime() <= SAMPLING_MS, 'recorded as published when it was first served, not when generation began')
  t.ok(signedAt - (servedAt as number) >= 1500 - SAMPLING_MS, `served ${signedAt - (servedAt as number)} ms before it signed`)
  // The producer's timers never hold the process open; the test polls (on a held timer) until the retirement.
  await until(() => !app.webhooks.status().rotationInProgress)
  t.match(await rotation, { previousKid: first })
})
