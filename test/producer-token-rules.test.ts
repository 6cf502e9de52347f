import t from 'tap'
import { createHash } from 'node:crypto'
import { calculateJwkThumbprint, type JWK } from 'jose'
import { decodeWebhookToken, explainWebhook } from '@webhook-jwt/consumer'
import { memoryKeyStore } from '@webhook-jwt/producer'
import { SIGNING_ALGORITHMS } from '@webhook-jwt/protocol'
import type { VectorCase } from '../docs/conformance/vector-format.ts'
import { startSender } from './support/webhook-pair.ts'
import { clockAt, consumerOptions, vectors } from './support/conformance.ts'

// The producer's tokens hold to every rule the conformance vectors encode: a token from app.webhooks.sign, at
// the vectors' clock, for the vectors' receiver, has the protocol header and nothing else, canonical
// base64url, every claim, a lifetime within the receiver's cap and the body digest in its one encoding, and
// that receiver accepts it.

// The receiver of the vectors' plain ES256 case: the protocol's defaults, every algorithm allowed.
const reference = vectors.cases.find((vector) => vector.id === 'accepted/es256') as VectorCase
const receiver = reference.receiver
const REQUIRED_CLAIMS = ['iss', 'aud', 'iat', 'exp', 'jti', 'webhook_id', 'body_sha256']
const canonical = (segment: string): boolean => Buffer.from(segment, 'base64url').toString('base64url') === segment

for (const algorithm of SIGNING_ALGORITHMS) {
  t.test(`a token app.webhooks.sign signs with ${algorithm} satisfies the vectors' rules`, async (t) => {
    const clock = clockAt(vectors.now)
    const sender = await startSender(t, { issuer: receiver.issuer, algorithm, keyStore: memoryKeyStore(), rotation: { every: false }, clock })
    const signed = await sender.app.webhooks.sign({ type: 'invoice.paid', customer: 'Zoë Ångström' }, { audience: receiver.audience[0] as string })

    t.ok(signed.token.split('.').every(canonical), 'three segments, each canonical base64url without padding')
    // The consumer's own strict decoding: UTF-8 JSON objects, no duplicate members, no BOM.
    const { header, claims } = decodeWebhookToken(signed.token, receiver.maxTokenBytes)
    t.same(header, { alg: algorithm, kid: signed.kid, typ: 'webhook+jwt' }, 'the protocol header: alg, kid, typ "webhook+jwt", nothing else (no crit)')
    t.ok(receiver.algorithms.includes(algorithm), 'an algorithm of the vectors\' allowlist')
    const published = (await (await fetch(sender.jwksUrl)).json() as { keys: JWK[] }).keys.find((key) => key.kid === signed.kid)
    t.ok(published !== undefined, 'the kid is in the published key set')
    t.equal(await calculateJwkThumbprint(published as JWK, 'sha256'), signed.kid, 'the kid is the RFC 7638 thumbprint of that key')
    t.equal(published?.alg, algorithm, 'published for the token\'s alg')
    t.same(Object.keys(claims).sort(), [...REQUIRED_CLAIMS].sort(), 'every claim the receiver requires, and no other')
    t.match(claims, { iss: receiver.issuer, aud: receiver.audience[0], iat: vectors.now, jti: /^[A-Za-z0-9_-]{22,}$/, webhook_id: signed.id })
    const lifetime = (claims.exp as number) - (claims.iat as number)
    t.ok(lifetime > 0 && lifetime <= receiver.maxTokenAge, `a lifetime of ${lifetime} s, within the cap of ${receiver.maxTokenAge} s`)
    t.equal(claims.body_sha256, createHash('sha256').update(signed.body).digest('base64url'), 'body_sha256: base64url, unpadded, of the SHA-256 of the exact body bytes')
    t.ok(signed.token.length <= receiver.maxTokenBytes, `${signed.token.length} bytes, within maxTokenBytes`)

    const { verdict } = await explainWebhook({ token: signed.token, body: signed.body }, consumerOptions(reference, sender.jwksUrl, clockAt(vectors.now)))
    t.same(verdict, { status: 200, code: null, retryAfter: null }, 'the vectors\' receiver accepts it')
  })
}
