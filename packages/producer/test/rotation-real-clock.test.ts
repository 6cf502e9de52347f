import t from 'tap'
import { memoryKeyStore } from '@webhook-jwt/producer'
import { bodyDigest } from '@webhook-jwt/protocol'
import { CachingVerifier } from './helpers/caching-verifier.ts'
import { AUDIENCE, ISSUER, buildProducer, listen } from './helpers/producer-app.ts'

// Real clock, windows of a second or two: max-age 1 s, token TTL 2 s, skew 0.1 s, so each key is published
// 1.1 s before it signs and kept 2.1 s after it stops, and each key signs for 3.2 s. (A TTL of 1 s would
// leave tokens signed late in a second only milliseconds of life: iat is rounded down to the second.)

t.test('a verifier that caches the JWKS for exactly max-age never meets a kid it lacks, over three rotations', async (t) => {
  const { app, transitions } = await buildProducer(t, {
    keyStore: memoryKeyStore(),
    tokenTtl: 2,
    clockSkew: 0.1,
    jwks: { maxAge: 1 },
    rotation: { every: 3.2 }
  })
  const verifier = new CachingVerifier(await listen(app), { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'] })
  const failures: unknown[] = []
  const kidsSeen = new Set<string>()
  let verified = 0
  const deadline = Date.now() + 20_000
  while (transitions.filter((step) => step.to === 'retired').length < 3 && Date.now() < deadline) {
    const signed = await app.webhooks.sign({ at: Date.now() }, { audience: AUDIENCE })
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
  const switches = transitions.filter((step) => step.to === 'active')
  for (const step of switches) {
    const published = transitions.find((other) => other.kid === step.kid && other.to === 'next') as { at: Date }
    t.ok(step.at.getTime() - published.at.getTime() >= 1100, 'each key signs only after publishLead')
  }
})
